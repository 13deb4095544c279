"""Native chatter of TensorFlow and LiteRT kept off the user's terminal.

TensorFlow's C++ start-up lines (oneDNN, CUDA probing, "All log messages before
absl::InitializeLog()") and LiteRT's "Created TensorFlow Lite XNNPACK delegate for CPU" are
written straight to file descriptor 2, before or past `TF_CPP_MIN_LOG_LEVEL` and Python's logging.
"""

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to a temporary file for a while, then restore it.

    If the block raises, what was written meanwhile is attached to the exception as a note, so a
    bug's traceback still shows the native diagnostic; a one-line user error stays one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException as error:
            sys.stderr.flush()
            sink.seek(0)
            written = sink.read().decode("utf-8", errors="replace").strip()
            if written:
                error.add_note(written)
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow():
    """Ask TensorFlow for warnings and errors only, before it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow():
    """Import TensorFlow (and probe for GPUs, which logs too) with its start-up chatter silenced."""
    quiet_tensorflow()
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf
