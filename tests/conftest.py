"""Shared fixtures: the real face data, skipped where absent unless CI requires it."""

import os

import pytest

from mobiface_tf import paths

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REQUIRE_DATA = os.environ.get("MOBIFACE_REQUIRE_DATA") == "1"


def _need(path, what):
    if path.exists():
        return path
    message = f"{what} not found at {path} (set MOBIFACE_DATA to the folder holding lfw/ and celeba_subset/)"
    if REQUIRE_DATA:
        pytest.fail(message + "; MOBIFACE_REQUIRE_DATA=1 turns this skip into a failure")
    pytest.skip(message)


@pytest.fixture(scope="session")
def lfw_dir():
    """The shared LFW folder (images/, pairs.txt, people.txt, landmarks_5pt.txt)."""
    return _need(paths.data_root() / "lfw", "LFW")


@pytest.fixture(scope="session")
def celeba_dir():
    """The shared CelebA subset (images/<identity>/<file>.jpg)."""
    return _need(paths.data_root() / "celeba_subset", "CelebA subset")


@pytest.fixture()
def tiny_data(tmp_path, monkeypatch):
    """(tree, lfw): five identities of four synthetic faces and an LFW-like folder (`helpers`), with
    MOBIFACE_WORK in tmp_path so evaluation caches stay out of the real work/ folder."""
    from helpers import write_identity_tree, write_lfw

    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(5)])
    return tree, write_lfw(tmp_path / "lfw")
