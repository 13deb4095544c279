"""Run a command-line entry point with the `train` extra made unimportable (tests/test_runtime.py).

    python tests/runtime_bootstrap.py MODULE:FUNCTION ARGS...

A meta-path finder refuses TensorFlow, Keras, mtcnn and matplotlib, as an install without them
would; at exit the top-level non-standard-library modules that were loaded are written as a JSON
list to $MOBIFACE_MODULES_OUT.
"""

import atexit
import importlib
import importlib.abc
import json
import os
import sys

BLOCKED = ("tensorflow", "keras", "tf_keras", "mtcnn", "matplotlib")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (made unimportable by the test)", name=name)
        return None


def _report():
    loaded = {name.split(".")[0] for name, module in list(sys.modules.items()) if module is not None}
    with open(os.environ["MOBIFACE_MODULES_OUT"], "w") as stream:
        json.dump(sorted(loaded - set(sys.stdlib_module_names)), stream)


if __name__ == "__main__":
    sys.meta_path.insert(0, _Blocker())
    if os.environ.get("MOBIFACE_MODULES_OUT"):
        atexit.register(_report)
    target, sys.argv = sys.argv[1], [sys.argv[1].split(":")[0].rsplit(".", 1)[-1], *sys.argv[2:]]
    module_name, function = target.split(":")
    getattr(importlib.import_module(module_name), function)()
