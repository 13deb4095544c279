"""Which dataset format a path names (data.formats), for mobiface-convert and the trainer alike."""

from mobiface_tf.data import formats


def test_formats_by_name_and_by_what_a_folder_holds(tmp_path):
    assert formats.dataset_format(tmp_path / "new.rec") == "rec"
    for name in ("x.tfrecord", "x.tfrecords", "x.tfrecord-00001-of-00004", "shards/*.tfrecord*"):
        assert formats.dataset_format(tmp_path / name) == "tfrecord", name
    assert formats.dataset_format(tmp_path / "aligned") == "tree"

    emore = tmp_path / "faces_emore"
    emore.mkdir()
    for name in ("train.rec", "train.idx", "property", "lfw.bin", "cfp_fp.bin"):
        (emore / name).write_bytes(b"")
    assert formats.dataset_format(emore) == "rec"
    assert formats.rec_file(emore) == emore / "train.rec" and formats.rec_file(emore / "train.rec") == emore / "train.rec"
    assert formats.verification_bins(emore) == [emore / "cfp_fp.bin", emore / "lfw.bin"]
    assert formats.verification_bins(emore / "train.rec") == [emore / "cfp_fp.bin", emore / "lfw.bin"]

    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.tfrecord").write_bytes(b"")
    assert formats.dataset_format(shards) == "tfrecord"
    tree = tmp_path / "tree" / "someone"
    tree.mkdir(parents=True)
    assert formats.dataset_format(tmp_path / "tree") == "tree" and formats.verification_bins(tmp_path / "tree") == []
