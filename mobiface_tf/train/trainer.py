"""The main training stage: a registered model, its cosine head (and a distillation projection), the
optimizer, the train step, the warm start; `train` runs it through the shared run loop.

The run folder, resume, validation, logs and the divergence guard are the run loop's
(`train.loop`); the training set and the LFW protocol are `train.data`'s; the teacher's part is
`train.distill`'s. Every field of `TrainConfig` is described beside it in `train.config`.

Weight decay is coupled L2 (`0.5 * wd * |w|^2` added to the loss, so `wd * w` joins the gradient
before momentum), as in Caffe/MXNet/PyTorch SGD and the paper's recipe. Keras 3's
`SGD(weight_decay=...)` is decoupled (`w -= lr * wd * w` outside momentum), which under momentum
0.9 decays about ten times less. Every trainable variable is decayed, as in InsightFace.

Distillation (`--teacher`, see `train.distill`): the teacher embeds each augmented batch inside
the input pipeline; the loss adds `distill_weight * mean(1 - cos(P s, t))` to the margin loss, or
is that term alone with `loss="none"` (then no classifier head is built and labels are unused,
so `unlabeled_dirs` can add faces without identities). `P` lives in the checkpoints only.
"""

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from mobiface_tf import paths
from mobiface_tf.errors import BadInputError, ModelLoadError
from mobiface_tf.train import data, distill, loop, losses


def prepare(config):
    """Check `config` against everything that can be checked before any work: its choices, its
    input paths, and the run folder's saved settings; fill in the default run folder.

    Nothing is written. Returns the configuration with `run_dir` and the settings that follow from
    the data set (`data.resolve_data_settings`: validation sets, `best_on`).
    """
    config = dataclasses.replace(config, run_dir=config.run_dir or str(paths.default_run_dir()))
    config.validate()
    # Here, not in validate(): the distill preset names no teacher, the command line gives it.
    if config.loss == "none" and not config.teacher:
        raise BadInputError("--loss=none trains with distillation alone and needs --teacher=PATH")
    config.check_paths()
    config = data.resolve_data_settings(config)
    loop.RunFolder(config.run_dir).check_resume(config)
    return config


def build_classifier(config, num_classes, embedding_size):
    """The cosine classifier of `config`, built for `embedding_size`-d embeddings: the plain one
    (centres as columns), or with `sample_rate` < 1 partial FC's (centres as rows,
    `partial_fc.SampledCosineClassifier`). Checkpoints name it `head` either way."""
    from mobiface_tf.train import partial_fc

    if config.sample_rate < 1:
        head = partial_fc.SampledCosineClassifier(num_classes, dtype="float32", name="cosine_classifier")
    else:
        head = losses.CosineClassifier(num_classes, dtype="float32", name="cosine_classifier")
    head.build((None, embedding_size))
    return head


def classifier_classes(config, kernel_shape):
    """The identity count of a checkpointed classifier kernel of `config` (see `build_classifier`)."""
    return int(kernel_shape[0] if config.sample_rate < 1 else kernel_shape[1])


def build_backbone(config):
    """The embedding model of `config.model` from the registry (float32 output)."""
    from mobiface_tf.models.registry import build_model

    kwargs = {"input_shape": (config.input_size, config.input_size, 3)}
    if config.embedding_size is not None:
        kwargs["embedding_size"] = config.embedding_size
    if config.head is not None:
        kwargs["head"] = config.head
    if config.activation is not None:
        kwargs["activation"] = config.activation
    try:
        return build_model(config.model, **kwargs)
    except ValueError as error:
        raise BadInputError(str(error)) from None


@dataclasses.dataclass
class TrainState:
    """What one training step needs: the models, optimizer, schedule, step counter and the
    compiled `train_step(distributed_iterator) -> {"loss": loss, "total": loss + weight decay}`,
    where the loss is the margin cross-entropy plus `distill_weight` times the distillation loss.

    `head` is None with `loss="none"`; `projection` (student -> teacher space) is None without
    a teacher."""

    backbone: keras.Model
    head: losses.CosineClassifier
    optimizer: keras.optimizers.Optimizer
    schedule: object
    step: tf.Variable
    train_step: object
    projection: object = None

    def checkpoint(self):
        """A `tf.train.Checkpoint` of everything a resume needs (what `train` saves)."""
        items = {"model": self.backbone, "optimizer": self.optimizer, "step": self.step}
        if self.head is not None:
            items["head"] = self.head
        if self.projection is not None:
            items["projection"] = self.projection
        return tf.train.Checkpoint(**items)


def build_train_state(config, num_classes, strategy, teacher_size=None):
    """Build backbone, cosine head, SGD or Adam (+ loss scaling under `config.mixed_precision`)
    under `strategy`, with all optimizer slots created (so checkpoints restore eagerly), and the
    `tf.function` train step (no XLA: 5x slower on this CPU).

    `teacher_size` (the teacher's embedding size D') adds the distillation projection and makes
    the train step expect `(images, labels, teacher_embeddings)` batches.

    With `config.sample_rate` < 1 (partial FC, `train.partial_fc`) each replica's softmax runs over
    a sample of the class centres, and SGD updates only the sampled centres, with their L2 term
    (the other variables keep the loss's L2 term); Adam takes the same sparse gradient densely."""
    from mobiface_tf.train import partial_fc

    if config.loss == "none" and teacher_size is None:
        raise BadInputError("--loss=none trains with distillation alone and needs --teacher=PATH")
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            backbone = build_backbone(config)
            head = projection = None
            if config.loss != "none":
                head = build_classifier(config, num_classes, backbone.output_shape[-1])
            if teacher_size is not None:
                projection = distill.make_projection(backbone.output_shape[-1], teacher_size)
            schedule = config.lr_schedule()
            sampled = head is not None and config.sample_rate < 1
            if config.optimizer == "adam":
                optimizer = keras.optimizers.Adam(learning_rate=schedule)
            elif sampled:
                optimizer = partial_fc.SparseMomentumSGD(learning_rate=schedule, momentum=config.momentum,
                                                         sparse_l2=config.weight_decay)
            else:
                optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=config.momentum)
            if config.mixed_precision:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            variables = list(backbone.trainable_variables)
            for extra in (head, projection):
                if extra is not None:
                    variables += extra.trainable_variables
            optimizer.build(variables)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    finally:
        keras.mixed_precision.set_global_policy("float32")

    margin = None
    if head is not None:
        margin = losses.SoftmaxWarmup(
            losses.make_margin(config.loss, config.scale, config.margin, config.m1, config.m2, config.m3,
                               config.easy_margin),
            config.warmup_steps,
        )
    decay = 0.5 * config.weight_decay
    replicas = strategy.num_replicas_in_sync
    num_centres = None
    decayed = variables
    if sampled:
        num_centres = partial_fc.num_sampled(num_classes, config.sample_rate, config.batch_size // replicas)
        if config.optimizer != "adam":
            # SparseMomentumSGD adds the sampled centres' L2 term; the whole matrix's would be dense.
            decayed = [v for v in variables if v is not head.kernel]

    def step_fn(images, labels, teacher_embeddings=None):
        with tf.GradientTape() as tape:
            embeddings = backbone(images, training=True)
            loss = tf.constant(0.0)
            if head is not None:
                # Mixed views (`mix_fraction`) carry label -1: no identity, distillation only.
                labelled = labels >= 0
                safe_labels = tf.where(labelled, labels, tf.zeros_like(labels))
                if num_centres is None:
                    cos_logits, targets = head(embeddings), safe_labels
                else:
                    cos_logits, targets, _ = head.sampled(embeddings, safe_labels, num_centres)
                logits = margin(cos_logits, targets, optimizer.iterations)
                per_example = losses.margin_cross_entropy(logits, targets) * tf.cast(labelled, tf.float32)
                loss += tf.nn.compute_average_loss(per_example, global_batch_size=config.batch_size)
            if projection is not None:
                per_example = distill.cosine_distillation_loss(
                    projection(tf.cast(embeddings, tf.float32)), teacher_embeddings)
                loss += config.distill_weight * tf.nn.compute_average_loss(
                    per_example, global_batch_size=config.batch_size)
                if config.relational_weight:
                    # Per replica: the pairs of this replica's share of the batch.
                    loss += config.relational_weight * distill.relational_loss(
                        embeddings, teacher_embeddings) / replicas
            l2 = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in decayed])
            total = loss + decay * l2 / replicas
            scaled = optimizer.scale_loss(total)
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return {"loss": loss, "total": total}

    # autograph=False: the step has no Python control flow to convert.
    @tf.function(autograph=False)
    def train_step(iterator):
        per_replica = strategy.run(step_fn, args=next(iterator))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    return TrainState(backbone, head, optimizer, schedule, step, train_step, projection)


def warm_start(state, source, say):
    """Load starting weights into a fresh `TrainState` (`TrainConfig.init_from`).

    `source` is a run folder, whose newest checkpoint gives the backbone and, when both have
    one, the distillation projection (so a distilled student continues without relearning it),
    or a `.keras` embedding model (a run folder without checkpoints stands for its
    `best.keras`/`final.keras`). The optimizer, step and classifier head start fresh.

    Raises:
        ModelLoadError: `source` cannot be read.
        BadInputError: its weights do not fit this configuration's model.
    """
    from mobiface_tf.embedding import load_keras_model

    source = Path(source).expanduser()
    if not source.exists():
        raise ModelLoadError("no such run folder or .keras file to start from (--init_from)", source)
    latest = tf.train.latest_checkpoint(str(source / "checkpoints")) if source.is_dir() else None
    if latest:
        names = {name.split("/")[0] for name, _ in tf.train.list_variables(latest)}
        items = {"model": state.backbone}
        if state.projection is not None and "projection" in names:
            items["projection"] = state.projection
        try:
            tf.train.Checkpoint(**items).restore(latest).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            reason = str(error).strip().splitlines()[0]
            raise BadInputError(f"checkpoint does not fit this model ({reason})", latest) from None
        say(f"initialized {', '.join(items)} from {latest}")
        return
    loaded = load_keras_model(source, what="model to start from (--init_from)")
    path, weights = loaded.path, loaded.model.get_weights()
    expected = [w.shape for w in state.backbone.get_weights()]
    if [w.shape for w in weights] != expected:
        raise BadInputError(f"model does not fit this configuration's {state.backbone.name} "
                            f"({len(weights)} weight arrays vs {len(expected)}, or other shapes)", path)
    state.backbone.set_weights(weights)
    say(f"initialized the backbone from {path}")


def train(config, strategy=None, log=print):
    """Train `config.model` as `config` says, resuming from `config.run_dir` if it has checkpoints.

    Args:
        config: a `TrainConfig`.
        strategy: a tf.distribute strategy (default: `loop.make_strategy()`).
        log: callable taking one line of progress text (the chief's only).

    Returns:
        dict: run_dir, step, loss, best_accuracy (on the validation set best_on), resumed_from (step, 0 for a
            fresh run), num_classes, best_on.

    Raises:
        BadInputError: a setting that cannot be trained with, checked before anything is written.
        DataNotFoundError: training or validation data is missing.
        TrainingDivergedError: the loss became NaN/inf; the last good checkpoint is kept.
    """
    from mobiface_tf.data.pipeline import SkipCounter

    strategy = strategy or loop.make_strategy()
    config = prepare(config)
    run = loop.RunFolder(config.run_dir, strategy, log)
    say = run.say
    training = data.gather_training_set(config, say)
    num_images = len(training.paths) if isinstance(training, data.TrainingSet) else training.num_images
    if num_images is not None and num_images < config.batch_size:
        raise BadInputError(f"--batch_size={config.batch_size} is larger than the training set "
                            f"({num_images} faces): no full batch to train on")
    teacher = distill.teacher_of(config)
    validator = data.make_validator(config, say) if run.is_chief else None
    run.start(config)
    for line in training.sources:
        say(f"training data: {line}")
    say(f"training set: {data.describe(training)}")
    if config.loss != "none" and config.sample_rate < 1:
        say(f"partial FC: {config.sample_rate:g} of the {training.num_classes} class centres in each replica's softmax")
    if teacher is not None:
        say(f"teacher: {teacher.source} ({teacher.embedding_size}-d embedding), distill_weight "
            f"{config.distill_weight}, loss {config.loss}")

    state = build_train_state(config, training.num_classes, strategy,
                              teacher_size=None if teacher is None else teacher.embedding_size)
    if teacher is not None and state.backbone.output_shape[-1] > teacher.embedding_size:
        say(f"warning: the student's embedding ({state.backbone.output_shape[-1]}-d) is larger than the teacher's "
            f"({teacher.embedding_size}-d): the directions the projection drops get no distillation signal; "
            f"--embedding_size={teacher.embedding_size} avoids that")

    skipped = SkipCounter()

    def make_iterator(seed):
        return iter(strategy.distribute_datasets_from_function(
            data.make_dataset_fn(training, config, seed, teacher=teacher, skip_counter=skipped)))

    def warm_start_once():
        if config.init_from:
            warm_start(state, config.init_from, say)

    stage = loop.Stage(checkpoint=state.checkpoint(), step=state.step, optimizer=state.optimizer,
                       train_step=state.train_step, model=state.backbone, input_size=config.input_size,
                       lr_at=config.lr_at, input_skipped=skipped.skipped)
    result = loop.run_stage(run, stage, config, make_iterator, validator, on_fresh_start=warm_start_once)
    return {"run_dir": str(run.run_dir), "step": result["step"], "loss": result["values"]["loss"],
            "best_accuracy": result["best_accuracy"], "resumed_from": result["resumed_from"],
            "num_classes": training.num_classes, "best_on": config.best_on}
