"""What every entry point shares: quiet TensorFlow start-up, one-line errors, exit codes, progress."""

import contextlib
import logging
import os
import sys
import time


def quiet_tensorflow():
    """Ask TensorFlow for warnings and errors only, before it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a while, then restore it.

    TensorFlow 2.21's C++ start-up lines (oneDNN, CUDA probing) are logged before its logging
    honours TF_CPP_MIN_LOG_LEVEL; a user error must still be the only line on stderr. Python
    exceptions raised inside print after the restore.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import TensorFlow (and probe for GPUs, which logs too) with its start-up chatter silenced."""
    quiet_tensorflow()
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf


def run_main(main, *, preload_tensorflow=False):
    """Run an absl `main(argv)` so user errors print one line and exit non-zero.

    A `MobiFaceError` becomes `error: <message>` on stderr with the error's exit code; Ctrl-C
    exits 130. Anything else is a bug and keeps its traceback. `preload_tensorflow` imports
    TensorFlow quietly first, for commands that need it anyway.
    """
    quiet_tensorflow()
    from absl import app

    from mobiface_tf.errors import MobiFaceError

    def guarded(argv):
        try:
            if preload_tensorflow:
                import_tensorflow()
            return main(argv)
        except MobiFaceError as error:
            print(f"error: {error}", file=sys.stderr)
            # The line above is the whole report: objects torn down on the way out (a failed
            # checkpoint restore warns once per unrestored value) must not bury it.
            logging.disable(logging.CRITICAL)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)


class Progress:
    """A one-line progress counter on stderr: redrawn in place on a terminal, a line every 30 s in a log.

    Call it as `progress(done, total, detail="")`; `close()` ends the line.
    """

    def __init__(self, unit="items"):
        self.unit = unit
        self.started = self.last = time.monotonic()
        self.interactive = sys.stderr.isatty()
        self.drawn = False

    def __call__(self, done, total, detail=""):
        now = time.monotonic()
        if now - self.last < (0.2 if self.interactive else 30.0) and done < total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        line = f"{done}/{total} {self.unit}{f' ({detail})' if detail else ''}, {rate:.1f}/s"
        if self.interactive:
            print(f"\r{line}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)
        self.drawn = True

    def close(self):
        """Finish the in-place line so later output starts on a new one."""
        if self.interactive and self.drawn:
            print(file=sys.stderr)
