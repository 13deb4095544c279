"""What every entry point shares: quiet TensorFlow start-up, one-line errors, exit codes, progress."""

import importlib.util
import logging
import os
import sys
import time

from mobiface_tf.quiet import import_tensorflow, quiet_tensorflow

# The libraries the `train` extra adds to the runtime install (numpy, pillow, absl-py,
# ai-edge-litert), and the command that installs them.
TRAIN_EXTRA_MODULES = ("tensorflow", "keras", "mtcnn", "matplotlib")
TRAIN_EXTRA_INSTALL = "pip install 'mobiface-tf[train]'"


# absl's help flags; asking for help is a success, whatever absl's exit status.
_HELP_FLAGS = ("help", "helpshort", "helpfull", "helpxml", "?")


def parse_flags(argv):
    """absl's flag parsing with the project's exit codes: a flag error is one line and exit 2.

    absl alone prints "FATAL Flags parsing error" plus a hint on two lines and exits 1, and
    exits 1 after `--help`; here a bad flag is a usage error like any other (`BadInputError`,
    exit 2) and help exits 0.
    """
    from absl import flags

    from mobiface_tf.errors import BadInputError

    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        message = " ".join(str(error).split())
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(BadInputError.exit_code)
    except SystemExit as stop:
        if stop.code == 1 and any(arg.lstrip("-").split("=")[0] in _HELP_FLAGS for arg in argv[1:]
                                  if arg.startswith("-")):
            sys.exit(0)
        raise


def run_main(main, *, preload_tensorflow=False):
    """Run an absl `main(argv)` so user errors print one line and exit non-zero.

    Exit codes (docs/reliability.md's table): 0 success; 1 nothing usable came out (a batch in which
    every file failed); a `MobiFaceError`'s own code (2 usage, flag errors included, 3..10) with
    `error: <message>` as the one line on stderr; 130 for Ctrl-C. A library of the `train` extra
    that is not installed (the runtime-only install) becomes a `MissingDependencyError` (10)
    saying how to install it. Anything else is a bug and keeps its traceback.
    `preload_tensorflow` imports TensorFlow quietly first, for commands that need it anyway.
    """
    quiet_tensorflow()
    from absl import app

    from mobiface_tf.errors import MobiFaceError

    def guarded(argv):
        try:
            try:
                if preload_tensorflow:
                    import_tensorflow()
                return main(argv)
            except ModuleNotFoundError as error:
                missing = _missing_extra(error)
                if missing is not None:
                    raise missing from error
                raise error
        except MobiFaceError as error:
            print(f"error: {error}", file=sys.stderr)
            # The line above is the whole report: objects torn down on the way out (a failed
            # checkpoint restore warns once per unrestored value) must not bury it.
            logging.disable(logging.CRITICAL)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except BrokenPipeError:
            # The reader left (`mobiface identify DIR | head`): stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)

    app.run(guarded, flags_parser=parse_flags)


def require_train_extra(*modules):
    """Raise `MissingDependencyError` unless every one of `modules` (of the `train` extra) is installed."""
    from mobiface_tf.errors import MissingDependencyError

    for name in modules:
        if not _installed(name):
            raise MissingDependencyError(_missing_text(name))


def _missing_text(name):
    command = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else "this command"
    return (f"{command} needs {name}, which is not installed (the runtime install runs only `mobiface` "
            f"with a .tflite model); install it with {TRAIN_EXTRA_INSTALL}")


def _missing_extra(error):
    """A `MissingDependencyError` for a train-extra library that is not installed, else None."""
    from mobiface_tf.errors import MissingDependencyError

    top = (error.name or "").split(".")[0]
    if top not in TRAIN_EXTRA_MODULES or _installed(top):
        return None  # another module, or a broken install of one: a bug, keep the traceback
    return MissingDependencyError(_missing_text(top))


def _installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


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


def define_config_flags(config_class, module_name, *, exclude=(), default_help="Default: {default!r}.",
                        flag_values=None):
    """Define one absl flag per field of the run-configuration dataclass `config_class`.

    The help is the field's own (`train.config.setting`), followed by `default_help` formatted
    with the field's `default`. Booleans are absl booleans (`--progress` / `--noprogress`); every
    other field is a string flag that the configuration parses by the field's type
    (`JsonConfig.with_overrides`), so a bad value is one line naming the field. Every flag defaults
    to None: unset flags leave the preset's or the saved run's value alone. `module_name` (the
    calling command's `__name__`) lists the flags under that command in `--helpshort`;
    `flag_values` defaults to absl's global FLAGS.
    """
    import dataclasses

    from absl import flags

    from mobiface_tf.train.config import field_kinds

    kinds = field_kinds(config_class)
    flag_values = flags.FLAGS if flag_values is None else flag_values
    if module_name == "__main__":
        module_name = sys.argv[0]  # how absl names the main module's flags
    for field in dataclasses.fields(config_class):
        if field.name in exclude:
            continue
        text = f"{field.metadata.get('help', '')} {default_help.format(default=field.default)}".strip()
        define = flags.DEFINE_boolean if kinds[field.name].base is bool else flags.DEFINE_string
        define(field.name, None, text, module_name=module_name, flag_values=flag_values)


def config_flag_values(config_class, *, exclude=(), flag_values=None):
    """{field: flag value} of the flags `define_config_flags` defined that were given on the command line."""
    import dataclasses

    from absl import flags

    flag_values = flags.FLAGS if flag_values is None else flag_values
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name not in exclude and flag_values[field.name].value is not None:
            values[field.name] = flag_values[field.name].value
    return values
