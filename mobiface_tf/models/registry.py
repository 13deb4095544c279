"""The one table of model builders by name, and `build_model` to call them."""

from mobiface_tf.models.baselines import MobileFaceNet, MobileNetV1
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
    activation ("prelu" | "relu"), name. Raises ValueError for an unknown name.
    """
    try:
        builder = MODELS[name]
    except (KeyError, TypeError) as error:
        raise ValueError(f"Unknown model {name!r}; known models: {', '.join(MODELS)}") from error
    return builder(**kwargs)
