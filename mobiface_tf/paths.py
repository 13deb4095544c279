"""Where the shared face data and the project's outputs live (one place, overridable by env)."""

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root():
    """The folder holding `lfw/` and `celeba_subset/`.

    `MOBIFACE_DATA` wins; otherwise `../shared/data` beside the checkout (the layout of this
    project's machines and CI). The folder may not exist: callers check and say how to get it.
    """
    env = os.environ.get("MOBIFACE_DATA")
    if env:
        return Path(env).expanduser()
    return (_REPO_ROOT / ".." / "shared" / "data").resolve()


def work_root():
    """Where jobs write aligned crops, runs, exports and caches: `MOBIFACE_WORK` or `./work`."""
    return Path(os.environ.get("MOBIFACE_WORK", _REPO_ROOT / "work")).expanduser()


def default_run_dir():
    """The run folder `mobiface-train` trains, `mobiface-export` exports and `make` uses when none is
    named: `work_root()/runs/default`."""
    return work_root() / "runs" / "default"


def default_flip_run_dir():
    """The flip stage's run folder when none is named (`mobiface-train-flip`, `mobiface-eval-flip`,
    `make train-flip`): `work_root()/runs/flip`."""
    return work_root() / "runs" / "flip"
