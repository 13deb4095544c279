"""What a run trains and validates on (train.data): the unrestricted protocol, the default data and its
alignment, which is never taken half-done."""

import pytest
from helpers import tiny_train_config, write_identity_tree, write_lfw

from mobiface_tf.data import aligned_tree
from mobiface_tf.data.align import TEMPLATE_112
from mobiface_tf.errors import BadInputError
from mobiface_tf.train import data as train_data
from mobiface_tf.train.config import resolve_config


def test_training_set_keeps_validation_people_out(tmp_path, tiny_data):
    tree, lfw = tiny_data
    training = train_data.gather_training_set(tiny_train_config(tmp_path, tree, lfw))
    assert training.num_classes == 5 + 18
    assert not {"P9_0", "P9_1"} & set(training.class_names)
    assert {"P0_0", "P8_1"} <= set(training.class_names)
    assert len(training.paths) == 5 * 4 + 18 * 3
    assert sorted(set(training.labels.tolist())) == list(range(training.num_classes))

    folds_1_to_8 = train_data.gather_training_set(tiny_train_config(tmp_path, tree, lfw, val_folds="9,10"))
    assert folds_1_to_8.num_classes == 5 + 16

    with pytest.raises(BadInputError, match="validation-fold people"):
        train_data.gather_training_set(tiny_train_config(tmp_path, lfw / "images", lfw, lfw_train="false"))


def test_min_images_drops_small_identities(tmp_path, tiny_data):
    tree, lfw = tiny_data
    training = train_data.gather_training_set(tiny_train_config(tmp_path, tree, lfw, min_images="4"))
    assert training.num_classes == 5 and len(training.paths) == 20


@pytest.fixture()
def shared_data(tmp_path, monkeypatch):
    """A MOBIFACE_DATA folder like the shared one: raw LFW photos with their landmark file (aligned
    without detection) and a CelebA subset whose aligned tree is already finished."""
    root = tmp_path / "shared"
    lfw = write_lfw(root / "lfw")
    relpaths = sorted(p.relative_to(lfw / "images").as_posix() for p in (lfw / "images").rglob("*.jpg"))
    points = "\t".join(f"{v:.2f}" for v in TEMPLATE_112.ravel())  # the crops are aligned already
    (lfw / "landmarks_5pt.txt").write_text("".join(f"{relpath}\t{points}\n" for relpath in relpaths))
    celeba = write_identity_tree(root / "celeba_subset" / "images", ["c0", "c1"], per_identity=2)
    monkeypatch.setenv("MOBIFACE_DATA", str(root))
    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    aligned = write_identity_tree(tmp_path / "work" / "aligned" / "celeba", ["c0", "c1"], per_identity=2)
    aligned_tree.write_state(aligned, input_dir=celeba, landmarks=None, photos=4, finished=True)
    return lfw, relpaths


@pytest.mark.slow
def test_an_interrupted_alignment_is_finished_before_training(shared_data, tmp_path):
    lfw, relpaths = shared_data
    config = resolve_config("smoke", {"input_size": "32"})
    lines = []
    train_data.align_default_data(config, log=lines.append)
    aligned = tmp_path / "work" / "aligned" / "lfw"
    assert lines == [f"aligning {lfw / 'images'} -> {aligned} (once; later runs reuse it)"]
    assert aligned_tree.is_finished(aligned, lfw / "images")
    complete = len(train_data.gather_training_set(config).paths)

    # A run killed halfway: some crops written, the state file still says unfinished.
    for relpath in relpaths[len(relpaths) // 2:]:
        (aligned / relpath).unlink()
    aligned_tree.write_state(aligned, input_dir=lfw / "images", landmarks=lfw / "landmarks_5pt.txt",
                             photos=len(relpaths), finished=False)
    with pytest.raises(BadInputError, match="incomplete: mobiface-align stopped before its end"):
        train_data.gather_training_set(config)
    lines = []
    train_data.align_default_data(config, log=lines.append)
    assert lines and lines[0].startswith("finishing the alignment of")
    assert len(train_data.gather_training_set(config).paths) == complete
    assert all((aligned / relpath).is_file() for relpath in relpaths)

    # Finished and unchanged: nothing to do. A source that gained photos is aligned again.
    lines = []
    train_data.align_default_data(config, log=lines.append)
    assert lines == []
    write_identity_tree(lfw / "images", ["P0_0"], per_identity=4, seed=9)
    assert not aligned_tree.is_finished(aligned, lfw / "images")


def test_a_tree_without_a_state_file_is_taken_as_it_is(tmp_path):
    tree = write_identity_tree(tmp_path / "tree", ["a", "b"], per_identity=1)
    aligned_tree.check_not_interrupted(tree)
    assert not aligned_tree.is_finished(tree, tmp_path / "tree")
