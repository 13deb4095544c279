"""What a run trains and validates on (train.data): the unrestricted protocol."""

import pytest
from helpers import write_identity_tree, write_lfw

from mobiface_tf.errors import BadInputError
from mobiface_tf.train import data as train_data
from mobiface_tf.train.config import resolve_config


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(5)])
    lfw = write_lfw(tmp_path / "lfw")
    return tree, lfw


def _config(tmp_path, tree, lfw, **overrides):
    values = {"train_dirs": str(tree), "lfw_dir": str(lfw), "lfw_aligned": str(lfw / "images"), "input_size": "32",
              "embedding_size": "16", "run_dir": str(tmp_path / "run"), "progress": "false"}
    values.update(overrides)
    return resolve_config("smoke", values)


def test_training_set_keeps_validation_people_out(tmp_path, data):
    tree, lfw = data
    training = train_data.gather_training_set(_config(tmp_path, tree, lfw))
    assert training.num_classes == 5 + 18
    assert not {"P9_0", "P9_1"} & set(training.class_names)
    assert {"P0_0", "P8_1"} <= set(training.class_names)
    assert len(training.paths) == 5 * 4 + 18 * 3
    assert sorted(set(training.labels.tolist())) == list(range(training.num_classes))

    folds_1_to_8 = train_data.gather_training_set(_config(tmp_path, tree, lfw, val_folds="9,10"))
    assert folds_1_to_8.num_classes == 5 + 16

    with pytest.raises(BadInputError, match="validation-fold people"):
        train_data.gather_training_set(_config(tmp_path, lfw / "images", lfw, lfw_train="false"))


def test_min_images_drops_small_identities(tmp_path, data):
    tree, lfw = data
    training = train_data.gather_training_set(_config(tmp_path, tree, lfw, min_images="4"))
    assert training.num_classes == 5 and len(training.paths) == 20
