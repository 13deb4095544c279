"""The one table of model builders by name, and `build_model` to call them.

Adding a model: write its block-spec table and a builder calling `blocks.face_model` (see
`mobiface.py`), then add one line here; tests pick up every registered name.
"""

from mobiface_tf.models.baselines import MobileFaceNet, MobileNetV1
from mobiface_tf.models.contract import model_args  # noqa: F401  (importing this module registers FaceModel)
from mobiface_tf.models.flipped import FlippedMobiFace
from mobiface_tf.models.mobiface import MobiFace

MODELS = {
    "mobiface": MobiFace,
    "flipped_mobiface": FlippedMobiFace,
    "mobilefacenet": MobileFaceNet,
    "mobilenet_v1": MobileNetV1,
}


def list_models():
    """The registered model names, in table order."""
    return list(MODELS)


def build_model(name, **kwargs):
    """Build the registered model `name` with the builder's keyword arguments.

    Common kwargs: input_shape=(112, 112, 3), embedding_size, head ("gdc" | "gap" | "fc"),
    activation ("prelu" | "relu"), name. Raises ValueError for an unknown name. The model
    records its arguments (`model_args(model)`).
    """
    try:
        builder = MODELS[name]
    except (KeyError, TypeError) as error:
        raise ValueError(f"Unknown model {name!r}; known models: {', '.join(MODELS)}") from error
    return builder(**kwargs)
