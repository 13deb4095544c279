"""Run configurations: one dataclass per training stage on a common base, each field's help, check and
choices beside it; presets as plain dicts; string overrides parsed by the field's type; the one
reader of a run folder's `config.json`; which changes a resume allows.

A run is fully described by its configuration; the run loop writes the resolved one to
`run_dir/config.json` so any run can be reproduced (or resumed) from its own folder. The
command-line flags are generated from the same fields (`mobiface_tf.cli.common.define_config_flags`).
"""

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Optional, Tuple

from mobiface_tf.errors import BadInputError, DataNotFoundError

CHECKS = ("positive", "non_negative")


def setting(default, help, *, check=None, choices=None, path=None, resumable=False):
    """A configuration field with everything said about it in one place.

    Args:
        default: the field's default.
        help: one or two sentences; the command-line flag's help.
        check: "positive" or "non_negative" (numbers), or None.
        choices: the allowed values: a tuple, or a function returning them (read when validating,
            so a registry is asked only then). None (no value) is always allowed for Optional fields.
        path: "input" for files or folders that must exist when given, "output" for ones the run
            writes, "checkpoint" for a tf.train checkpoint prefix; resume compares paths by where
            they point, not how they are spelled.
        resumable: a rerun may change this field and still resume the run (how long, how often,
            how verbose).
    """
    if check not in (None, *CHECKS):
        raise ValueError(f"`check` must be one of {CHECKS}. Received `check={check!r}`")
    metadata = {"help": help, "check": check, "choices": choices, "path": path, "resumable": resumable}
    return dataclasses.field(default=default, metadata=metadata)


def redefault(config_class, name, default):
    """The field `name` of `config_class` with another default (same help and checks): a subclass
    that needs other defaults than its base writes `name: type = redefault(Base, "name", value)`."""
    field = next(f for f in dataclasses.fields(config_class) if f.name == name)
    return dataclasses.field(default=default, metadata=field.metadata)


@dataclasses.dataclass(frozen=True)
class FieldKind:
    """How a field's value is typed: base type (int, float, str, bool, tuple), whether None is
    allowed, and a tuple's item type."""

    base: type
    optional: bool
    item: Optional[type] = None


def field_kinds(config_class):
    """Field name -> `FieldKind`, read from the class's type hints."""
    kinds = {}
    for name, hint in typing.get_type_hints(config_class).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = typing.get_origin(hint) is typing.Union
        if optional:
            hint = args[0]
        if typing.get_origin(hint) is tuple:
            kinds[name] = FieldKind(tuple, optional, typing.get_args(hint)[0])
        else:
            kinds[name] = FieldKind(hint, optional)
    return kinds


def _parse(name, kind, value):
    """`value` (a string from the command line, or already typed) as the field's type."""
    if not isinstance(value, str):
        return tuple(value) if kind.base is tuple else value
    if kind.optional and value.lower() in ("none", ""):
        return None
    try:
        if kind.base is bool:
            if value.lower() in ("1", "true", "yes"):
                return True
            if value.lower() in ("0", "false", "no"):
                return False
            raise ValueError(value)
        if kind.base is tuple:
            return tuple(kind.item(item.strip()) for item in value.split(",") if item.strip())
        return kind.base(value)
    except ValueError:
        expected = f"comma-separated {kind.item.__name__}s" if kind.base is tuple else kind.base.__name__
        raise BadInputError(f"--{name} expects {expected}. Received `{name}={value!r}`") from None


class JsonConfig:
    """What every run configuration shares: the JSON round trip of `run_dir/config.json`,
    overrides parsed by field type, and checks driven by each field's metadata (see `setting`)."""

    DESCRIPTION = "run configuration"  # in errors about an unreadable config.json
    # Keys older config.json files used for a field since renamed (old name -> field), so their
    # run folders still resume.
    RENAMED = {}

    def to_json(self):
        """The configuration as indented JSON (tuples become lists)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """Inverse of `to_json`; unknown keys are an error naming them."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data):
        """The configuration of a `config.json` dict; unknown keys are an error naming them."""
        if not isinstance(data, dict):
            raise BadInputError(f"expected a JSON object, found {type(data).__name__}")
        data = {cls.RENAMED.get(name, name): value for name, value in data.items()}
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise BadInputError(f"unknown {cls.__name__} keys {sorted(unknown)}")
        kinds = field_kinds(cls)
        return cls(**{name: tuple(value) if kinds[name].base is tuple and value is not None else value
                      for name, value in data.items()})

    def with_overrides(self, overrides):
        """A copy with `overrides` (field -> value or command-line string) applied, not validated.

        Raises BadInputError naming an unknown field or a value of the wrong type.
        """
        kinds = field_kinds(type(self))
        values = {}
        for name, value in (overrides or {}).items():
            if name not in kinds:
                raise BadInputError(f"unknown {self.DESCRIPTION} setting. Received `{name}={value!r}`")
            values[name] = _parse(name, kinds[name], value)
        return dataclasses.replace(self, **values)

    def validate(self):
        """Check every field against its metadata (sign, choices), then `check_more()`.

        Returns self; raises BadInputError naming the first field that cannot be trained with.
        """
        for field in dataclasses.fields(self):
            value, check, choices = getattr(self, field.name), field.metadata.get("check"), field.metadata.get("choices")
            if value is None:
                continue
            if check == "positive" and not value > 0:
                raise BadInputError(f"--{field.name} must be positive. Received `{field.name}={value}`")
            if check == "non_negative" and value < 0:
                raise BadInputError(f"--{field.name} cannot be negative. Received `{field.name}={value}`")
            if choices is not None:
                allowed = tuple(choices() if callable(choices) else choices)
                if value not in allowed:
                    raise BadInputError(f"--{field.name} must be one of {list(allowed)}. "
                                        f"Received `{field.name}={value!r}`")
        self.check_more()
        return self

    def check_more(self):
        """Checks across fields; subclasses extend it."""

    def check_paths(self):
        """Raise DataNotFoundError naming the first input path (file or folder) that does not exist.

        Called before any work, so a typo in a path is reported before data is aligned or anything
        is written.
        """
        for field in dataclasses.fields(self):
            if field.metadata.get("path") != "input":
                continue
            value = getattr(self, field.name)
            for path in value if isinstance(value, tuple) else (value,):
                if path and not Path(path).expanduser().exists():
                    raise DataNotFoundError(f"no such file or folder (--{field.name})", path)


@dataclasses.dataclass
class RunConfig(JsonConfig):
    """The settings every training stage shares: batch, schedule, length, side jobs, run folder."""

    batch_size: int = setting(64, "Global batch size, split over replicas.", check="positive")
    learning_rate: float = setting(1e-3, "Learning rate of the first piece of the schedule.", check="positive")
    lr_boundaries: Tuple[int, ...] = setting(
        (), "Comma-separated steps where the learning rate is multiplied by --lr_decay (empty: constant).")
    lr_decay: float = setting(0.1, "Factor applied to the learning rate at each of --lr_boundaries.")
    weight_decay: float = setting(
        0.0, "Coupled L2: 0.5 * weight_decay * |w|^2 added to the loss (as the paper's SGD means it).",
        check="non_negative")
    max_steps: int = setting(1000, "Stop after this many steps.", check="positive", resumable=True)
    seed: int = setting(0, "Seed of the data order; a resumed run reshuffles with seed + step.")
    eval_every: int = setting(250, "Validate on the LFW folds every N steps (0: never).", check="non_negative",
                              resumable=True)
    checkpoint_every: int = setting(100, "Write a checkpoint every N steps.", check="non_negative", resumable=True)
    keep_checkpoints: int = setting(3, "Checkpoints kept in run_dir/checkpoints.", check="positive", resumable=True)
    log_every: int = setting(10, "Write TensorBoard scalars every N steps.", check="positive", resumable=True)
    progress: bool = setting(True, "Show a progress bar (--noprogress to hide).", resumable=True)
    run_dir: str = setting("", "Run folder; an existing one is resumed.", path="output")

    def check_more(self):
        if list(self.lr_boundaries) != sorted(set(self.lr_boundaries)) or any(b <= 0 for b in self.lr_boundaries):
            raise BadInputError(
                f"--lr_boundaries must be increasing positive steps. Received `lr_boundaries={self.lr_boundaries}`"
            )

    def lr_values(self):
        """Learning rate of each piece of the piecewise-constant schedule (len(boundaries) + 1)."""
        return [self.learning_rate * self.lr_decay**i for i in range(len(self.lr_boundaries) + 1)]

    def lr_at(self, step):
        """The learning rate of the step that follows `step` finished steps."""
        return self.lr_values()[sum(step >= b for b in self.lr_boundaries)]

    def lr_schedule(self):
        """The optimizer's learning rate: a Keras schedule of the optimizer's iteration count that
        agrees with `lr_at`, or the plain rate when there are no boundaries."""
        if not self.lr_boundaries:
            return self.learning_rate
        import keras

        # Keras switches after iteration > boundary; `b - 1` makes exactly the first b steps run
        # at the first rate, "divided by 10 at 40K iterations" read literally.
        return keras.optimizers.schedules.PiecewiseConstantDecay([b - 1 for b in self.lr_boundaries],
                                                                 self.lr_values())


def _model_names():
    from mobiface_tf.models.registry import list_models

    return list_models()


def _heads():
    from mobiface_tf.models.blocks import HEADS

    return HEADS


def _activations():
    from mobiface_tf.models.blocks import ACTIVATIONS

    return ACTIVATIONS


def _losses():
    from mobiface_tf.train.losses import LOSSES

    return (*LOSSES, "none")


def _augmentations():
    from mobiface_tf.data.pipeline import AUGMENTATIONS

    return tuple(AUGMENTATIONS)


def _presets():
    return tuple(PRESETS)


OPTIMIZERS = ("sgd", "adam")


@dataclasses.dataclass
class TrainConfig(RunConfig):
    """Everything a training run needs. Defaults are the paper's recipe (section 4.2)."""

    DESCRIPTION = "training configuration"
    # `train_dirs` became `train_data` when record datasets joined the folder trees.
    RENAMED = {"train_dirs": "train_data"}

    preset: str = setting("paper", "Starting configuration; other settings override its fields.", choices=_presets)
    # Model
    model: str = setting("mobiface", "Registered model name.", choices=_model_names)
    embedding_size: Optional[int] = setting(None, "Embedding length D (none: the model's default).",
                                            check="positive")
    head: Optional[str] = setting(None, "Embedding head (none: the model's default).", choices=_heads)
    activation: Optional[str] = setting(None, "prelu (the paper's) or relu (none: the model's default).",
                                        choices=_activations)
    input_size: int = setting(112, "Square input side; images are resized to it when not 112 (tiny test models).",
                              check="positive")
    # Loss
    loss: str = setting("arcface", "Margin loss on cosine logits, or none (distillation alone, needs --teacher).",
                        choices=_losses)
    scale: float = setting(64.0, "Scale s of the cosine logits.", check="positive")
    margin: Optional[float] = setting(None, "ArcFace/CosFace margin (none: the loss's default).")
    m1: float = setting(1.0, "Combined margin: cos(m1 * theta + m2) - m3.")
    m2: float = setting(0.3, "See --m1.")
    m3: float = setting(0.2, "See --m1.")
    easy_margin: bool = setting(False, "ArcFace's easy margin (no margin where theta + m > pi).")
    warmup_steps: int = setting(0, "Train with plain softmax for the first N steps.", check="non_negative")
    sample_rate: float = setting(
        1.0, "Partial FC: share of the class centres in each replica's softmax, the batch's own identities plus "
        "random others, updated sparsely (1: every centre, the plain classifier). For 100K+ identities, e.g. 0.1 "
        "for Glint360K (train.partial_fc).", check="positive")
    # Optimization (and the RunConfig fields with the paper's values)
    batch_size: int = redefault(RunConfig, "batch_size", 1024)
    learning_rate: float = redefault(RunConfig, "learning_rate", 0.1)
    lr_boundaries: Tuple[int, ...] = redefault(RunConfig, "lr_boundaries", (40000, 60000, 80000))
    optimizer: str = setting("sgd", "sgd (with --momentum) or adam; weight decay is coupled L2 for both.",
                             choices=OPTIMIZERS)
    momentum: float = setting(0.9, "SGD momentum.", check="non_negative")
    weight_decay: float = redefault(RunConfig, "weight_decay", 5e-4)
    max_steps: int = redefault(RunConfig, "max_steps", 100000)
    mixed_precision: bool = setting(False, "mixed_float16 compute (GPUs).")
    # Data
    train_data: Tuple[str, ...] = setting(
        (), "Training faces: comma-separated aligned trees <root>/<identity>/<img>.jpg (merged), or one record "
        "dataset streamed from disk: an InsightFace folder (train.rec, train.idx, property, *.bin: faces_emore/, "
        "glint360k/), a .rec with its .idx and property, or TFRecord files (a file, glob or folder). Default: "
        "work/aligned/celeba.", path="input")
    lfw_dir: str = setting("", "LFW folder with pairs.txt and people.txt (default: the shared data's lfw/).",
                           path="input")
    lfw_aligned: str = setting("", "Aligned LFW crops (default: work/aligned/lfw).", path="input")
    lfw_train: bool = setting(True, "Train on the LFW people of the folds outside --val_folds too (folder trees "
                              "only: record datasets name no people to keep the validation folds' out by).")
    min_images: int = setting(1, "Drop identities with fewer training images (folder trees only: a record dataset "
                              "trains on all its identities).", check="non_negative")
    augment: str = setting("flip", "Training augmentation: none, flip, full (flip, crop jitter, colour, blur), or "
                           "strong (full with twice the crop jitter, occlusion and grayscale).", choices=_augmentations)
    val_folds: Tuple[int, ...] = setting((10,), "Comma-separated LFW folds (1-10) validated on and kept out of "
                                         "training (folder-tree data).")
    val_bins: Tuple[str, ...] = setting(
        (), "Comma-separated InsightFace verification .bin files (lfw.bin, cfp_fp.bin, agedb_30.bin) validated every "
        "--eval_every steps, each reported under its name (cfp_fp_accuracy, ...). Default: the .bin files of a "
        "record dataset's folder.", path="input", resumable=True)
    best_on: str = setting(
        "", "The validation set that chooses best.keras: lfw (the LFW folds of folder-tree data) or a --val_bins "
        "name without .bin (cfp_fp). Default: lfw (the folds, or an lfw.bin), else the first .bin.", resumable=True)
    # Side jobs (the RunConfig fields with the paper's values)
    eval_every: int = redefault(RunConfig, "eval_every", 2000)
    checkpoint_every: int = redefault(RunConfig, "checkpoint_every", 1000)
    log_every: int = redefault(RunConfig, "log_every", 50)
    run_dir: str = setting("", "Run folder (default: work/runs/default); an existing one is resumed.",
                           path="output")
    # Distillation (train.distill)
    teacher: str = setting("", "Distil from this model (.tflite via LiteRT, .keras or a run folder): its embedding "
                           "of the same augmented view is the target of a learned projection of the student's.",
                           path="input")
    teacher_input_mean: Optional[float] = setting(
        None, "Teacher pixel normalization (x - mean) / std; default: the teacher's metadata JSON.")
    teacher_input_std: Optional[float] = setting(None, "See --teacher_input_mean.")
    teacher_threads: int = setting(1, "CPU threads of a .tflite teacher.", check="positive", resumable=True)
    distill_weight: float = setting(1.0, "Weight of the distillation loss 1 - cos(projection(student), teacher).")
    unlabeled_dirs: Tuple[str, ...] = setting(
        (), "Comma-separated folders of aligned faces without identity labels (needs --loss=none).", path="input")
    relational_weight: float = setting(
        0.0, "Weight of a term matching the student's pairwise cosine similarities within a batch to the teacher's "
        "(train.distill.relational_loss; needs --teacher).", check="non_negative")
    mix_fraction: float = setting(
        0.0, "Share of every batch replaced by mixtures of two faces that the teacher embeds too "
        "(data.pipeline.mix_views; needs --teacher).")
    # Warm start
    init_from: str = setting("", "Start from these weights (a run folder's newest checkpoint: backbone and "
                             "distillation projection; or a .keras model of the same architecture) with a fresh "
                             "optimizer at step 0; ignored when --run_dir already has checkpoints.",
                             path="input", resumable=True)

    def check_more(self):
        super().check_more()
        from mobiface_tf.models.blocks import MIN_INPUT_SIZE

        if self.input_size < MIN_INPUT_SIZE:
            raise BadInputError(f"--input_size must be at least {MIN_INPUT_SIZE}. Received `input_size={self.input_size}`")
        if self.sample_rate > 1:
            raise BadInputError(f"--sample_rate is a share of the class centres, at most 1. "
                                f"Received `sample_rate={self.sample_rate}`")
        if not self.val_folds or any(not 1 <= f <= 10 for f in self.val_folds):
            raise BadInputError(f"--val_folds must be LFW folds 1..10. Received `val_folds={self.val_folds}`")
        if self.unlabeled_dirs and self.loss != "none":
            raise BadInputError(f"--unlabeled_dirs (faces without identity labels) need --loss=none: a margin "
                                f"loss needs labels. Received `loss={self.loss!r}`")
        if self.teacher and not self.distill_weight > 0:
            raise BadInputError(f"--distill_weight must be positive with --teacher. "
                                f"Received `distill_weight={self.distill_weight}`")
        if (self.relational_weight or self.mix_fraction) and not self.teacher:
            raise BadInputError("--relational_weight and --mix_fraction are distillation options and need --teacher=PATH")
        if not 0 <= self.mix_fraction <= 1:
            raise BadInputError(f"--mix_fraction must be in [0, 1]. Received `mix_fraction={self.mix_fraction}`")
        if (self.teacher_input_mean is None) != (self.teacher_input_std is None):
            raise BadInputError("give both --teacher_input_mean and --teacher_input_std. Received "
                                f"`teacher_input_mean={self.teacher_input_mean}`, `teacher_input_std={self.teacher_input_std}`")


# The flip stage's choices (see `train.flip`): the cross-entropy's logits, and the L2 term's form.
CE_MARGINS = ("softmax", "source")
# "squared": |g(f_I) - f_Ī|^2, the paper's; "relative": the same divided by |f_Ī|^2, so the few
# faces with a large feature norm do not dominate the batch (verification compares directions).
FLIP_L2_MODES = ("squared", "relative")


@dataclasses.dataclass
class FlipConfig(RunConfig):
    """Everything the flip stage (`train.flip`) needs: Adam on the flip predictor g only, on the
    training images and validation folds of the source run."""

    DESCRIPTION = "flip-stage configuration"

    from_run: str = setting("", "Trained run folder (config.json + checkpoints/) whose backbone and classifier are "
                            "frozen.", path="input")
    source_checkpoint: str = setting("", "tf.train checkpoint prefix of --from_run (default: its latest, resolved "
                                     "and saved, so a resume keeps the same weights).", path="checkpoint")
    flip_ce_weight: float = setting(1.0, "Weight of the cross-entropy of g(f_I) through the frozen classifier "
                                    "(0: L2 only, the only choice for a source without a classifier).",
                                    check="non_negative")
    ce_margin: str = setting("softmax", "softmax (normalized softmax at the source run's scale) or source (its "
                             "margin loss).", choices=CE_MARGINS)
    flip_l2: str = setting("squared", "squared (the paper's |g(f_I) - f_mirror|^2) or relative (divided by "
                           "|f_mirror|^2; ~100x smaller values, so scale --flip_ce_weight down with it).",
                           choices=FLIP_L2_MODES)
    flip_residual: bool = setting(False, "g(f) = f + h(f), h starting at zero (g starts as the identity), instead of "
                                  "the paper's two plain layers: for backbones already nearly mirror-invariant.")
    lr_boundaries: Tuple[int, ...] = redefault(RunConfig, "lr_boundaries", (700,))
    eval_every: int = setting(250, "Validate (f_I + g(f_I))/2 on the source run's LFW folds every N steps "
                              "(0: never).", check="non_negative", resumable=True)
    run_dir: str = setting("", "Flip run folder (default: work/runs/flip); an existing one is resumed.",
                           path="output")

    def check_more(self):
        super().check_more()
        if not self.from_run:
            raise BadInputError("--from_run is required: the trained MobiFace run folder to start from")


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


def resolve_config(preset="paper", overrides=None):
    """The preset's configuration with `overrides` (field -> value or string) applied, validated.

    Strings are parsed by the field's type: "1,2,3" for tuples, "true/false" for booleans,
    "none" for optional fields. Unknown presets or fields, and values outside a field's choices
    (e.g. a model name the registry does not know), raise BadInputError naming them.
    """
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset. Received `preset={preset!r}`; choose one of {sorted(PRESETS)}")
    base = TrainConfig(**PRESETS[preset], preset=preset)
    return base.with_overrides({k: v for k, v in (overrides or {}).items() if k != "preset"}).validate()


def read_config_json(run_dir):
    """The raw dict of `run_dir/config.json`, or None when the folder has none.

    The one reader of a run folder's configuration file: the loaders of run folders and the
    typed `load_config` go through it. Raises BadInputError (one line) for unreadable JSON.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BadInputError(f"unreadable config.json ({error})", path) from None
    if not isinstance(data, dict):
        raise BadInputError(f"config.json holds a {type(data).__name__}, not a JSON object", path)
    return data


def load_config(run_dir, config_class=TrainConfig):
    """The configuration (`TrainConfig` by default, or another run configuration class such as
    `FlipConfig`) a run folder was started with, or None when it has no config.json."""
    data = read_config_json(run_dir)
    if data is None:
        return None
    try:
        return config_class.from_dict(data)
    except (ValueError, TypeError, BadInputError) as error:
        raise BadInputError(f"not a {config_class.DESCRIPTION} ({error})", Path(run_dir) / "config.json") from None


def _as_paths(value):
    values = value if isinstance(value, (tuple, list)) else (value,)
    return [os.path.abspath(os.path.expanduser(v)) if v else "" for v in values]


def _same_setting(field, saved, wanted):
    if saved == wanted:
        return True
    if field.metadata.get("path") is None or saved is None or wanted is None:
        return False
    return _as_paths(saved) == _as_paths(wanted)


def check_resume_compatible(saved, wanted, run_dir):
    """Raise BadInputError if `wanted` differs from the run folder's `saved` configuration (of the
    same class) in a field not marked `resumable`: one that would make continuing the saved run
    meaningless (model, loss, data, schedule...). Paths are compared by where they point."""
    changed = [
        f.name
        for f in dataclasses.fields(saved)
        if not f.metadata.get("resumable") and not _same_setting(f, getattr(saved, f.name), getattr(wanted, f.name))
    ]
    if changed:
        detail = ", ".join(f"{n}: {getattr(saved, n)!r} -> {getattr(wanted, n)!r}" for n in changed)
        raise BadInputError(
            f"this run folder was started with other settings ({detail}); use another --run_dir "
            "or the same flags to resume",
            Path(run_dir) / "config.json",
        )
