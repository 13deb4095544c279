"""The training configuration: one dataclass, presets as plain dicts, overrides from strings.

A run is fully described by its `TrainConfig`; the trainer writes the resolved one to
`run_dir/config.json` so any run can be reproduced (or resumed) from its own folder.
"""

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Optional

from mobiface_tf.errors import BadInputError


class JsonConfig:
    """JSON round trip for the run configurations (`TrainConfig`, the flip stage's `FlipConfig`):
    what each run writes as `run_dir/config.json`."""

    DESCRIPTION = "run configuration"  # in errors about an unreadable config.json

    def to_json(self):
        """The configuration as indented JSON (tuples become lists)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """Inverse of `to_json`; unknown keys are an error naming them."""
        data = json.loads(text)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise BadInputError(f"unknown {cls.__name__} keys {sorted(unknown)}")
        for name, kind in field_types(cls).items():
            if kind is tuple and name in data:
                data[name] = tuple(data[name])
        return cls(**data)


@dataclasses.dataclass
class TrainConfig(JsonConfig):
    """Everything a training run needs. Defaults are the paper's recipe (section 4.2).

    Model: `model` (a name of `mobiface_tf.models.registry.MODELS`), `embedding_size`, `head` and `activation`
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
    Optimizer: `optimizer` is "sgd" (with `momentum`) or "adam"; weight decay is coupled L2 for both.
    Augmentation: `augment` is "flip" (random horizontal flips), "full" (flip, crop jitter, colour,
    blur; see `data.pipeline.augment_face`) or "none".
    Distillation (`train.distill`): `teacher` is a `.tflite`, `.keras` or run folder whose
    embedding of the same augmented view the student learns to reproduce through a learned linear
    projection; `teacher_input_mean/std` override the teacher's metadata (needed for a `.tflite`
    without a JSON); `distill_weight` weighs the 1 - cosine loss; `loss="none"` trains with
    distillation alone; `teacher_threads` are LiteRT's CPU threads. `unlabeled_dirs` are folders
    of faces without identity labels (any nesting), usable only with `loss="none"`.
    Warm start: `init_from` is a run folder (its newest checkpoint's backbone and distillation
    projection) or a `.keras` embedding model of the same architecture; training starts from
    those weights with a fresh optimizer at step 0. A run folder that already has checkpoints of
    its own resumes from them instead.
    Distillation levers: `relational_weight` weighs a term matching the student's pairwise cosine
    similarities within a batch to the teacher's (`distill.relational_loss`); `mix_fraction` of
    every batch is replaced by mixtures of two faces that the teacher embeds too
    (`data.pipeline.mix_views`); `augment="strong"` adds occlusion, grayscale and twice the crop
    jitter to "full".
    """

    DESCRIPTION = "training configuration"  # in errors about an unreadable config.json

    preset: str = "paper"
    model: str = "mobiface"
    embedding_size: Optional[int] = None
    head: Optional[str] = None
    activation: Optional[str] = None
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
    optimizer: str = "sgd"
    augment: str = "flip"
    teacher: str = ""
    teacher_input_mean: Optional[float] = None
    teacher_input_std: Optional[float] = None
    teacher_threads: int = 1
    distill_weight: float = 1.0
    unlabeled_dirs: tuple = ()
    init_from: str = ""
    relational_weight: float = 0.0
    mix_fraction: float = 0.0

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
        self._validate_choices()
        return self

    def _validate_choices(self):
        from mobiface_tf.train.losses import LOSSES

        for name, choices in (("loss", sorted(LOSSES) + ["none"]), ("optimizer", OPTIMIZERS), ("augment", AUGMENTS)):
            if getattr(self, name) not in choices:
                raise BadInputError(f"--{name} must be one of {list(choices)}. Received `{name}={getattr(self, name)!r}`")
        if self.unlabeled_dirs and self.loss != "none":
            raise BadInputError(f"--unlabeled_dirs (faces without identity labels) need --loss=none: a margin "
                                f"loss needs labels. Received `loss={self.loss!r}`")
        if self.teacher and not self.distill_weight > 0:
            raise BadInputError(f"--distill_weight must be positive with --teacher. "
                                f"Received `distill_weight={self.distill_weight}`")
        if (self.teacher_input_mean is None) != (self.teacher_input_std is None):
            raise BadInputError("give both --teacher_input_mean and --teacher_input_std. Received "
                                f"`teacher_input_mean={self.teacher_input_mean}`, `teacher_input_std={self.teacher_input_std}`")
        if self.relational_weight < 0:
            raise BadInputError(f"--relational_weight cannot be negative. Received `relational_weight={self.relational_weight}`")
        if (self.relational_weight or self.mix_fraction) and not self.teacher:
            raise BadInputError("--relational_weight and --mix_fraction are distillation options and need --teacher=PATH")
        if not 0 <= self.mix_fraction <= 1:
            raise BadInputError(f"--mix_fraction must be in [0, 1]. Received `mix_fraction={self.mix_fraction}`")
        if self.teacher_threads < 1:
            raise BadInputError(f"--teacher_threads must be positive. Received `teacher_threads={self.teacher_threads}`")


OPTIMIZERS = ("sgd", "adam")
AUGMENTS = ("none", "flip", "full", "strong")

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
        # ReLU, not the paper's PReLU: XNNPACK runs int8 ReLU fused into the convolutions but has
        # no int8 PReLU, so only a ReLU network gets the full-int8 speed-up on phones (README).
        "activation": "relu",
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
    # Stage 1 of the bundled model (`make bundle`): MobiFace distilled from a teacher
    # (`--teacher=...` is required) with the cosine loss alone, on the default data (~17.7K
    # faces) with strong augmentation the teacher also sees. Adam 1e-3, as measured in FACTS.md
    # (~95% on fold 10 after 4-6 epochs at a constant rate), then / 10 at 2/3 and 9/10 of the
    # steps: 1,200 steps of 64 = 77K images = ~4.3 epochs. Stage 2 is a fresh run of this preset
    # started from stage 1 (`--init_from`) with a longer schedule (Makefile, README). The
    # student's embedding is the teacher's size (192 for the bundled model's MobileFaceNet
    # teacher): a larger one leaves directions outside the projection's reach untrained, noise
    # that BN scales up like the rest.
    "distill": {
        "loss": "none",
        "embedding_size": 192,
        "activation": "relu",  # the bundled model ships as int8: see the demo preset
        "optimizer": "adam",
        "augment": "full",
        "batch_size": 64,
        "learning_rate": 1e-3,
        "lr_boundaries": (800, 1080),
        "max_steps": 1200,
        "weight_decay": 5e-5,
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


def field_types(config_class=None):
    """Field name -> base type (int, float, str, bool, tuple), Optional unwrapped."""
    types = {}
    for name, hint in typing.get_type_hints(config_class or TrainConfig).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        types[name] = args[0] if typing.get_origin(hint) is typing.Union else hint
    return types


_TUPLE_ITEM = {"lr_boundaries": int, "val_folds": int, "train_dirs": str, "unlabeled_dirs": str}
_OPTIONAL = ("embedding_size", "head", "activation", "margin", "teacher_input_mean", "teacher_input_std")


def _parse(name, kind, text):
    if not isinstance(text, str):
        return tuple(text) if kind is tuple else text
    if text.lower() in ("none", "") and name in _OPTIONAL:
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


def load_config(run_dir, config_class=None):
    """The configuration (`TrainConfig` by default, or another `JsonConfig` class such as the
    flip stage's) a run folder was started with: its `config.json`, or None when it has none."""
    config_class = config_class or TrainConfig
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        return config_class.from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise BadInputError(f"not a {config_class.DESCRIPTION} ({error})", path) from None


# Fields a rerun may change without breaking a resume: how long, how often, how verbose (and
# init_from, which only a fresh run reads).
RESUMABLE_CHANGES = ("max_steps", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every", "progress",
                     "teacher_threads", "init_from")


# Fields that name files or folders: `work/runs/x` and `/abs/work/runs/x` are the same setting.
PATH_FIELDS = ("run_dir", "train_dirs", "lfw_dir", "lfw_aligned", "teacher", "unlabeled_dirs", "init_from",
               "from_run", "source_checkpoint")


def _as_paths(value):
    values = value if isinstance(value, (tuple, list)) else (value,)
    return [os.path.abspath(os.path.expanduser(v)) if v else "" for v in values]


def _same_setting(name, saved, wanted):
    if saved == wanted:
        return True
    if name not in PATH_FIELDS or saved is None or wanted is None:
        return False
    return _as_paths(saved) == _as_paths(wanted)


def check_resume_compatible(saved, wanted, run_dir, resumable=RESUMABLE_CHANGES):
    """Raise BadInputError if `wanted` differs from the run folder's `saved` config (any run
    configuration dataclass) in a field outside `resumable`: one that would make continuing the
    saved run meaningless (model, loss, data, schedule...)."""
    changed = [
        f.name
        for f in dataclasses.fields(saved)
        if f.name not in resumable and not _same_setting(f.name, getattr(saved, f.name), getattr(wanted, f.name))
    ]
    if changed:
        detail = ", ".join(f"{n}: {getattr(saved, n)!r} -> {getattr(wanted, n)!r}" for n in changed)
        raise BadInputError(
            f"this run folder was started with other settings ({detail}); use another --run_dir "
            "or the same flags to resume",
            Path(run_dir) / "config.json",
        )
