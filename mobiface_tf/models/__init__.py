"""Face embedding networks: MobiFace, Flipped-MobiFace and the paper's baselines (Keras 3)."""

from mobiface_tf.models.baselines import MobileFaceNet, MobileNetV1
from mobiface_tf.models.contract import FaceModel, model_args
from mobiface_tf.models.flipped import FlippedMobiFace, backbone_model, flip_outputs_model
from mobiface_tf.models.mobiface import MobiFace
from mobiface_tf.models.registry import MODELS, build_model, list_models

__all__ = [
    "MODELS",
    "FaceModel",
    "FlippedMobiFace",
    "MobiFace",
    "MobileFaceNet",
    "MobileNetV1",
    "backbone_model",
    "build_model",
    "flip_outputs_model",
    "list_models",
    "model_args",
]
