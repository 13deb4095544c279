"""What every entry point shares: quiet TensorFlow logs, one-line errors, exit codes."""

import os
import sys


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up chatter before it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_main(main):
    """Run an absl `main(argv)` so user errors print one line and exit non-zero.

    A `MobiFaceError` becomes `error: <message>` on stderr with the error's exit code;
    Ctrl-C exits 130. Anything else is a bug and keeps its traceback.
    """
    quiet_tensorflow()
    from absl import app

    from mobiface_tf.errors import MobiFaceError

    def guarded(argv):
        try:
            return main(argv)
        except MobiFaceError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)
