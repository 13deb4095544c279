"""The training configuration: one dataclass, presets as plain dicts, overrides from strings.

A run is fully described by its `TrainConfig`; the trainer writes the resolved one to
`run_dir/config.json` so any run can be reproduced (or resumed) from its own folder.
"""

import dataclasses
import json
import typing
from pathlib import Path
from typing import Optional

from mobiface_tf.errors import BadInputError


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs. Defaults are the paper's recipe (section 4.2).

    Model: `model` (a name of `mobiface_tf.models.registry.MODELS`), `embedding_size` and `head`
    (None: the model's default), `input_size` (square side; images are resized to it when it is
    not 112, which only tiny test models use).
    Loss: `loss` (a name of `losses.LOSSES`), `scale`, `margin` (arcface/cosface; None = the
    loss's default), `m1, m2, m3` (combined), `easy_margin`, `warmup_steps` (plain softmax for
    the first steps).
    Optimization: `batch_size` is GLOBAL (split over replicas); SGD with `momentum`;
    `weight_decay` is coupled L2 (see trainer); `learning_rate` is multiplied by `lr_decay` at
    each of `lr_boundaries` (iterations); training stops at `max_steps`.
    Data: `train_dirs` are aligned identity trees (`<root>/<identity>/<file>.jpg`); empty means
    the default job (aligned CelebA subset + LFW people outside `val_folds`). `lfw_dir` holds
    `pairs.txt`/`people.txt` ("" = the shared data's `lfw/`), `lfw_aligned` its aligned crops
    ("" = `work/aligned/lfw`). `lfw_train` adds the LFW people of the folds not in `val_folds` to
    training; `min_images` drops identities with fewer images.
    Side jobs: validate on the pairs of `val_folds` every `eval_every` steps (0: never), checkpoint
    every `checkpoint_every` steps keeping `keep_checkpoints`, log scalars every `log_every`.
    """

    preset: str = "paper"
    model: str = "mobiface"
    embedding_size: Optional[int] = None
    head: Optional[str] = None
    input_size: int = 112
    loss: str = "arcface"
    scale: float = 64.0
    margin: Optional[float] = None
    m1: float = 1.0
    m2: float = 0.3
    m3: float = 0.2
    easy_margin: bool = False
    warmup_steps: int = 0
    batch_size: int = 1024
    learning_rate: float = 0.1
    lr_boundaries: tuple = (40000, 60000, 80000)
    lr_decay: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    max_steps: int = 100000
    mixed_precision: bool = False
    seed: int = 0
    train_dirs: tuple = ()
    lfw_dir: str = ""
    lfw_aligned: str = ""
    lfw_train: bool = True
    min_images: int = 1
    val_folds: tuple = (10,)
    eval_every: int = 2000
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 50
    progress: bool = True
    run_dir: str = ""

    def lr_values(self):
        """Learning rate of each piece of the piecewise-constant schedule (len(boundaries) + 1)."""
        return [self.learning_rate * self.lr_decay**i for i in range(len(self.lr_boundaries) + 1)]

    def validate(self):
        """Raise BadInputError naming the first field whose value cannot be trained with."""
        positive = ("batch_size", "max_steps", "learning_rate", "scale", "input_size", "keep_checkpoints", "log_every")
        for name in positive:
            if getattr(self, name) <= 0:
                raise BadInputError(f"--{name} must be positive. Received `{name}={getattr(self, name)}`")
        for name in ("warmup_steps", "eval_every", "checkpoint_every", "weight_decay", "momentum", "min_images"):
            if getattr(self, name) < 0:
                raise BadInputError(f"--{name} cannot be negative. Received `{name}={getattr(self, name)}`")
        if list(self.lr_boundaries) != sorted(set(self.lr_boundaries)) or any(b <= 0 for b in self.lr_boundaries):
            raise BadInputError(
                f"--lr_boundaries must be increasing positive steps. Received `lr_boundaries={self.lr_boundaries}`"
            )
        if not self.val_folds or any(not 1 <= f <= 10 for f in self.val_folds):
            raise BadInputError(f"--val_folds must be LFW folds 1..10. Received `val_folds={self.val_folds}`")
        return self

    def to_json(self):
        """The configuration as indented JSON (tuples become lists)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """Inverse of `to_json`; unknown keys are an error naming them."""
        data = json.loads(text)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise BadInputError(f"unknown training configuration keys {sorted(unknown)}")
        for name, kind in field_types().items():
            if kind is tuple and name in data:
                data[name] = tuple(data[name])
        return cls(**data)


PRESETS = {
    # Section 4.2 of the paper: SGD momentum 0.9, lr 0.1 / 10 at 40K, 60K, 80K, stop at 100K,
    # batch 1024, weight decay 5e-4, ArcFace (s=64, m=0.5). Sized for GPUs.
    "paper": {},
    # The default main job on this 2-core CPU (~30 images/s for MobiFace): 1,000 steps of 64 =
    # 64K images, about 36 min of training plus four validations of fold 10. Linear scaling of
    # lr 0.1 @ 1024 would give 0.006, too slow for a run this short; 0.05 trains and stays stable
    # thanks to 200 softmax warm-up steps. LFW singletons are dropped (min_images=2): an
    # identity with one crop teaches the classifier nothing but that crop.
    "demo": {
        "batch_size": 64,
        "learning_rate": 0.05,
        "lr_boundaries": (600, 800, 900),
        "max_steps": 1000,
        "warmup_steps": 200,
        "min_images": 2,
        "eval_every": 250,
        "checkpoint_every": 100,
        "log_every": 10,
    },
    # Tiny, for tests: a few steps, frequent checkpoints, no validation.
    "smoke": {
        "batch_size": 8,
        "learning_rate": 0.01,
        "lr_boundaries": (4,),
        "max_steps": 6,
        "warmup_steps": 2,
        "eval_every": 0,
        "checkpoint_every": 2,
        "log_every": 1,
        "keep_checkpoints": 2,
    },
}


def field_types():
    """Field name -> base type (int, float, str, bool, tuple), Optional unwrapped."""
    types = {}
    for name, hint in typing.get_type_hints(TrainConfig).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        types[name] = args[0] if typing.get_origin(hint) is typing.Union else hint
    return types


_TUPLE_ITEM = {"lr_boundaries": int, "val_folds": int, "train_dirs": str}


def _parse(name, kind, text):
    if not isinstance(text, str):
        return tuple(text) if kind is tuple else text
    if text.lower() in ("none", "") and name in ("embedding_size", "head", "margin"):
        return None
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise ValueError(text)
        if kind is tuple:
            return tuple(_TUPLE_ITEM[name](item.strip()) for item in text.split(",") if item.strip())
        return kind(text)
    except ValueError:
        raise BadInputError(f"--{name} expects {kind.__name__}. Received `{name}={text!r}`") from None


def resolve_config(preset="paper", overrides=None):
    """The preset's configuration with `overrides` (field -> value or string) applied, validated.

    Strings are parsed by the field's type: "1,2,3" for tuples, "true/false" for booleans,
    "none" for optional fields. Unknown presets or fields raise BadInputError naming them.
    """
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset. Received `preset={preset!r}`; choose one of {sorted(PRESETS)}")
    types = field_types()
    values = dict(PRESETS[preset], preset=preset)
    for name, value in (overrides or {}).items():
        if name not in types:
            raise BadInputError(f"unknown training setting. Received `{name}={value!r}`")
        values[name] = _parse(name, types[name], value)
    return TrainConfig(**values).validate()


def load_config(run_dir):
    """The `TrainConfig` a run folder was started with (its `config.json`), or None."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        return TrainConfig.from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise BadInputError(f"not a training configuration ({error})", path) from None


# Fields a rerun may change without breaking a resume: how long, how often, how verbose.
RESUMABLE_CHANGES = ("max_steps", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every", "progress")


def check_resume_compatible(saved, wanted, run_dir):
    """Raise BadInputError if `wanted` differs from the run folder's `saved` config in a field
    that would make continuing the saved run meaningless (model, loss, data, schedule...)."""
    changed = [
        f.name
        for f in dataclasses.fields(TrainConfig)
        if f.name not in RESUMABLE_CHANGES and getattr(saved, f.name) != getattr(wanted, f.name)
    ]
    if changed:
        detail = ", ".join(f"{n}: {getattr(saved, n)!r} -> {getattr(wanted, n)!r}" for n in changed)
        raise BadInputError(
            f"this run folder was started with other settings ({detail}); use another --run_dir "
            "or the same flags to resume",
            Path(run_dir) / "config.json",
        )
