"""What a run trains and validates on (train.data): the unrestricted protocol, the default data and its
alignment, which is never taken half-done."""

import numpy as np
import pytest
from helpers import tiny_train_config, write_identity_tree, write_lfw, write_tiny_insightface_folder

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


# --- record datasets: InsightFace folders, .rec, TFRecord --------------------------------------


def _record_config(tmp_path, train_data, **overrides):
    values = {"train_data": str(train_data), "input_size": "32", "run_dir": str(tmp_path / "run"), **overrides}
    return train_data_settings(resolve_config("smoke", {"eval_every": "2", **values}))


def train_data_settings(config):
    config.check_paths()
    return train_data.resolve_data_settings(config)


def test_an_insightface_folder_is_streamed_with_its_property_and_validated_on_its_bins(tmp_path):
    folder = write_tiny_insightface_folder(tmp_path / "faces_emore")
    (folder / "property").write_text("7,112,112\n")  # more identities than labels used: read, not counted
    config = _record_config(tmp_path, folder)
    assert config.val_bins == (str(folder / "cfp_fp.bin"), str(folder / "lfw.bin"))
    assert (config.best_on, config.lfw_train) == ("lfw", False)
    assert train_data.validation_set_names(config) == ["cfp_fp", "lfw"]
    assert train_data_settings(config) == config  # idempotent: a resume compares the same values
    training = train_data.gather_training_set(config, log=None)
    assert isinstance(training, train_data.RecordSet)
    assert (training.format, training.num_classes, training.num_images) == ("rec", 7, 20)
    assert training.path == str(folder / "train.rec")
    # The .rec alone finds the .bin files beside it too; other choices are named.
    assert _record_config(tmp_path, folder / "train.rec", best_on="cfp_fp").val_bins == config.val_bins
    with pytest.raises(BadInputError, match=r"--best_on must name a validation set, one of \['cfp_fp', 'lfw'\]"):
        _record_config(tmp_path, folder, best_on="agedb_30")
    assert _record_config(tmp_path, folder, min_images="2").min_images == 1  # folder trees only


def test_record_data_needs_something_to_validate_on_and_cannot_mix_with_trees(tmp_path, tiny_data):
    tree, _ = tiny_data
    bare = write_tiny_insightface_folder(tmp_path / "bare", bins=())
    with pytest.raises(BadInputError, match="nothing to validate on"):
        _record_config(tmp_path, bare)
    assert _record_config(tmp_path, bare, eval_every="0").val_bins == ()
    with pytest.raises(BadInputError, match="one record dataset"):
        _record_config(tmp_path, f"{bare},{tree}", eval_every="0")
    with pytest.raises(BadInputError, match="unlabeled_dirs"):
        _record_config(tmp_path, bare, eval_every="0", unlabeled_dirs=str(tree), loss="none")


def test_tfrecord_shards_count_their_identities_once_without_a_property_file(tmp_path):
    from mobiface_tf.cli.convert import convert

    folder = write_tiny_insightface_folder(tmp_path / "faces", identities=3, bins=("agedb_30",))
    shards = tmp_path / "shards"
    shards.mkdir()
    convert(folder / "train.rec", shards / "part-0.tfrecord", log=lambda line: None)
    lines = []
    config = _record_config(tmp_path, shards, val_bins=str(folder / "agedb_30.bin"))
    training = train_data.gather_training_set(config, log=lines.append)
    assert (training.format, training.num_classes, training.num_images) == ("tfrecord", 3, 12)
    assert lines and "one pass" in lines[0] and config.best_on == "agedb_30"
    (shards / "property").write_text("3,112,112\n")
    lines = []
    training = train_data.gather_training_set(config, log=lines.append)
    assert (training.num_classes, training.num_images, lines) == (3, None, [])


def test_validator_reports_every_set_under_its_name(tmp_path, tiny_data):
    tree, lfw = tiny_data
    folder = write_tiny_insightface_folder(tmp_path / "faces")
    validator = train_data.Validator(lfw, [10], log=lambda line: None, bins=[folder / "cfp_fp.bin"], best_on="cfp_fp")
    record = validator.record(lambda faces: np.asarray(faces, np.float32).reshape(len(faces), -1)[:, :16], 5,
                              {"loss": 1.0}, 0.1)
    assert validator.best_key == "cfp_fp_accuracy"
    assert {"lfw_accuracy", "lfw_auc", "cfp_fp_accuracy", "cfp_fp_accuracy_std", "cfp_fp_auc"} <= set(record)
    assert (record["val_folds"], record["best_on"], record["step"]) == ([10], "cfp_fp", 5)
    with pytest.raises(BadInputError, match="two validation sets share a name"):
        train_data_settings(tiny_train_config(tmp_path, tree, lfw, val_bins=str(folder / "lfw.bin")))


def test_the_paper_preset_takes_an_insightface_folder_unchanged(tmp_path):
    from mobiface_tf.train import trainer

    folder = write_tiny_insightface_folder(tmp_path / "faces_emore", bins=("lfw", "cfp_fp", "agedb_30"))
    (folder / "property").write_text("85742,112,112\n")  # MS1M-ArcFace's identity count
    config = trainer.prepare(resolve_config("paper", {"train_data": str(folder), "run_dir": str(tmp_path / "run")}))
    # The paper's batch, schedule and loss; validation on the folder's .bin files, best.keras on lfw.
    assert (config.batch_size, config.learning_rate, config.lr_boundaries, config.max_steps, config.loss) == (
        1024, 0.1, (40000, 60000, 80000), 100000, "arcface")
    assert train_data.validation_set_names(config) == ["agedb_30", "cfp_fp", "lfw"]
    assert config.best_on == "lfw" and config.sample_rate == 1.0
    assert train_data.gather_training_set(config, log=None).num_classes == 85742
