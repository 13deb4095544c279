"""TensorBoard scalars with TensorFlow alone: tensorflow 2.21 no longer installs the tensorboard package."""

import tensorflow as tf

_SCALAR_METADATA = b"\n\t\n\x07scalars"  # SummaryMetadata(plugin_data=PluginData(plugin_name="scalars"))


def write_scalar(name, value):
    """A TensorBoard scalar at the default writer's step, without the tensorboard package.

    `tf.summary.scalar` lives in tensorboard; this writes the same event (a float32 tensor tagged
    for the "scalars" plugin).
    """
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=_SCALAR_METADATA)


class ScalarWriter:
    """Scalars of one run into `log_dir` (event files TensorBoard reads); a no-op when not `enabled`
    (the non-chief workers of a multi-worker run)."""

    def __init__(self, log_dir, enabled=True):
        self._writer = tf.summary.create_file_writer(str(log_dir)) if enabled else tf.summary.create_noop_writer()

    def write(self, step, values):
        """Write `values` (name -> number) at `step`."""
        with self._writer.as_default(step=step):
            for name, value in values.items():
                write_scalar(name, value)

    def flush(self):
        """Push pending events to disk."""
        self._writer.flush()
