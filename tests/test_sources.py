"""Tests for the dataset readers: trees, LFW files, RecordIO, TFRecord, verification .bin, convert."""

import io
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data import recordio, sources
from mobiface_tf.data.binsets import load_verification_bin, write_verification_bin
from mobiface_tf.errors import BadInputError, DataNotFoundError


def _jpeg(value, size=112):
    rng = np.random.default_rng(value)
    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def face_tree(tmp_path):
    """3 identities (b has 1 image, a and c have 2), plus things the lister must ignore."""
    root = tmp_path / "tree"
    for identity, count in (("c_person", 2), ("a_person", 2), ("b_person", 1)):
        (root / identity).mkdir(parents=True)
        for index in range(count):
            (root / identity / f"{index:02d}.jpg").write_bytes(_jpeg(hash((identity, index)) % 1000))
    (root / "a_person" / "02.JPG").write_bytes(_jpeg(7))  # upper-case extension counts
    (root / "a_person" / "notes.txt").write_text("not an image")
    (root / "a_person" / ".hidden.jpg").write_bytes(_jpeg(8))
    (root / "empty_person").mkdir()
    (root / ".cache").mkdir()
    (root / ".cache" / "x.jpg").write_bytes(_jpeg(9))
    (root / "stray.jpg").write_bytes(_jpeg(10))
    return root


# --- folder trees ------------------------------------------------------------------------------


def test_list_identity_tree_is_sorted_contiguous_and_filtered(face_tree):
    paths, labels, class_names = sources.list_identity_tree(face_tree)
    assert class_names == ["a_person", "b_person", "c_person"]
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 0, 0, 1, 2, 2]
    assert [os.path.relpath(path, face_tree) for path in paths] == [
        "a_person/00.jpg", "a_person/01.jpg", "a_person/02.JPG",
        "b_person/00.jpg", "c_person/00.jpg", "c_person/01.jpg",
    ]
    assert sources.list_identity_tree(face_tree)[0] == paths


def test_identity_tree_reports_what_is_not_an_image(face_tree):
    tree = sources.scan_identity_tree(face_tree)
    assert tree.paths == sources.list_identity_tree(face_tree)[0]
    ((path, reason),) = tree.skipped  # notes.txt; hidden files and root-level files are not listed
    assert path.endswith("a_person/notes.txt") and "not an image" in reason


def test_images_are_recognised_by_content_not_by_name(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    folder = tmp_path / "person"
    folder.mkdir()
    for name, kind in (("a.gif", "GIF"), ("b.tif", "TIFF"), ("c", "PNG"), ("d.JPEG", "JPEG"), ("e.webp", "WEBP")):
        Image.fromarray(pixels).save(folder / name, format=kind)
    (folder / "f.jpg").write_text("a text file named like a photo")
    (folder / "g.png").write_bytes(b"")
    tree = sources.scan_identity_tree(tmp_path)
    assert [os.path.basename(p) for p in tree.paths] == ["a.gif", "b.tif", "c", "d.JPEG", "e.webp"]
    assert {os.path.basename(p): ("not an image" in r) for p, r in tree.skipped} == {"f.jpg": True, "g.png": True}
    listing = sources.list_image_files(tmp_path)
    assert listing.paths == tree.paths and listing.skipped == tree.skipped


def test_list_identity_tree_missing_or_empty_root(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such folder"):
        sources.list_identity_tree(tmp_path / "absent")
    (tmp_path / "empty" / "someone").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="no images") as error:
        sources.list_identity_tree(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(error.value)


# --- LFW protocol files ------------------------------------------------------------------------


def test_lfw_relpath():
    assert sources.lfw_relpath("Aaron_Peirsol", 3) == "Aaron_Peirsol/Aaron_Peirsol_0003.jpg"
    with pytest.raises(BadInputError):
        sources.lfw_relpath("Aaron_Peirsol", 0)


@pytest.mark.data
def test_read_pairs_view2(lfw_dir):
    pairs = sources.read_pairs(lfw_dir / "pairs.txt")
    assert len(pairs) == 6000
    assert sorted({pair.fold for pair in pairs}) == list(range(10))
    assert sum(pair.same for pair in pairs) == 3000
    for fold in range(10):
        in_fold = [pair for pair in pairs if pair.fold == fold]
        assert len(in_fold) == 600 and sum(pair.same for pair in in_fold) == 300
        assert all(pair.same for pair in in_fold[:300]) and not any(pair.same for pair in in_fold[300:])
    assert all(pair.name_a == pair.name_b for pair in pairs if pair.same)
    first = pairs[0]
    assert (lfw_dir / "images" / first.relpath_a).is_file()
    assert (lfw_dir / "images" / first.relpath_b).is_file()


@pytest.mark.data
def test_read_pairs_view1(lfw_dir):
    train = sources.read_pairs(lfw_dir / "pairsDevTrain.txt")
    assert len(train) == 2200 and sum(pair.same for pair in train) == 1100
    assert {pair.fold for pair in train} == {0}
    assert train[0] == sources.Pair("Aaron_Peirsol", 1, "Aaron_Peirsol", 2, True, 0)
    assert len(sources.read_pairs(lfw_dir / "pairsDevTest.txt")) == 1000


@pytest.mark.data
def test_read_people(lfw_dir):
    folds = sources.read_people(lfw_dir / "people.txt")
    assert len(folds) == 10 and len(folds[0]) == 601
    assert folds[0][0] == ("Abdel_Madi_Shabneh", 1)
    names = [name for fold in folds for name, _ in fold]
    assert len(names) == len(set(names))  # folds are disjoint in identity
    dev_train = sources.read_people(lfw_dir / "peopleDevTrain.txt")
    assert len(dev_train) == 1 and len(dev_train[0]) == 4038
    assert dev_train[0][0] == ("AJ_Cook", 1)


@pytest.mark.data
def test_read_landmarks(lfw_dir):
    landmarks = sources.read_landmarks(lfw_dir / "landmarks_5pt.txt")
    # Every LFW image, plus Betsy_Coffin_0001 whose image the shared copy lacks.
    assert len(landmarks) == 13233
    assert "Betsy_Coffin/Betsy_Coffin_0001.jpg" in landmarks
    points = landmarks["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"]
    assert points.shape == (5, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points[0], [64.2, 64.2])
    np.testing.assert_allclose(points[4], [83.4, 96.6])


@pytest.mark.parametrize(
    "text, line",
    [
        ("1 2\nA 1 2\nA 1 x\nA 1 B 2\nA 1 B 2\n", 3),      # non-numeric image number
        ("1 2\nA 1 2\nA 1 B 2\nA 1 B 2\nA 1 B 2\n", 3),    # mismatched line in the matched block
        ("1 2\nA 1 2\nA 1 2\nA 1 B\nA 1 B 2\n", 4),        # mismatched line with 3 fields
        ("1 2\nA 1 2\nA 0 2\nA 1 B 2\nA 1 B 2\n", 3),      # image numbers start at 1
        ("ten 300\n", 1),
    ],
)
def test_read_pairs_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(BadInputError) as error:
        sources.read_pairs(path)
    assert str(path) in str(error.value) and f"line {line}:" in str(error.value)


def test_read_pairs_small_file_and_count_mismatch(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("2 1\nA\t1\t2\nA\t1\tB\t3\nC 2 4\nC 1 D 1\n\n")
    pairs = sources.read_pairs(path)
    assert [pair.fold for pair in pairs] == [0, 0, 1, 1]
    assert pairs[3] == sources.Pair("C", 1, "D", 1, False, 1)
    path.write_text("2 1\nA 1 2\nA 1 B 3\n")
    with pytest.raises(BadInputError, match="promises 2 fold"):
        sources.read_pairs(path)
    with pytest.raises(DataNotFoundError):
        sources.read_pairs(tmp_path / "absent.txt")


def test_read_people_malformed(tmp_path):
    path = tmp_path / "people.txt"
    path.write_text("2\n1\nA 3\n2\nB 1\nC\n")
    with pytest.raises(BadInputError, match=r"line 6: expected `name image_count`"):
        sources.read_people(path)
    path.write_text("2\n1\nA 3\n2\nB 1\n")
    with pytest.raises(BadInputError, match="line 6: file ends inside a fold"):
        sources.read_people(path)
    path.write_text("2\n1\nA 3\n1\nB 1\n")
    assert sources.read_people(path) == [[("A", 3)], [("B", 1)]]


def test_read_landmarks_malformed(tmp_path):
    path = tmp_path / "landmarks.txt"
    good = "X/X_0001.jpg" + " 1.0" * 10
    path.write_text(f"# header\n{good}\nY/Y_0001.jpg 1 2 3\n")
    with pytest.raises(BadInputError, match="line 3:") as error:
        sources.read_landmarks(path)
    assert str(path) in str(error.value)
    path.write_text(f"{good}\n{good}\n")
    with pytest.raises(BadInputError, match="line 2: duplicate"):
        sources.read_landmarks(path)
    path.write_text(good.replace("1.0", "nan", 1) + "\n")
    with pytest.raises(BadInputError, match="line 1"):
        sources.read_landmarks(path)


# --- RecordIO ----------------------------------------------------------------------------------


def test_recordio_frame_layout_matches_dmlc():
    """One record, byte for byte as dmlc-core writes it: magic, lrec, payload, zero padding."""
    assert recordio.IR_SIZE == 24 == struct.calcsize("IfQQ")
    payload = recordio.pack_ir_record(3.0, b"\xff\xd8abc", key=5)
    assert payload[:24] == struct.pack("IfQQ", 0, 3.0, 5, 0)
    assert recordio.encode_lrec(3, 17) == (3 << 29) | 17
    assert recordio.decode_lrec((2 << 29) | 9) == (2, 9)


def test_recordio_writer_bytes(tmp_path):
    path = tmp_path / "one.rec"
    with recordio.RecordIOWriter(path) as writer:
        writer.write(b"hello")
    assert path.read_bytes() == b"\x0a\x23\xd7\xce" + struct.pack("<I", 5) + b"hello\0\0\0"


def test_recordio_round_trip_with_embedded_magic(tmp_path):
    magic = struct.pack("<I", recordio.MAGIC)
    payloads = [
        b"",
        b"abc",
        magic,                                   # the whole payload is the magic
        b"abcd" + magic + b"efgh" + magic + b"x",  # aligned: split into parts
        b"ab" + magic + b"cd",                   # unaligned: stored as is
        magic + magic,
        bytes(range(256)) * 5,
    ]
    rec, idx = tmp_path / "d.rec", tmp_path / "d.idx"
    with recordio.RecordIOWriter(rec, idx) as writer:
        for key, payload in enumerate(payloads):
            writer.write(payload, key=key * 10)
    data = rec.read_bytes()
    assert len(data) % 4 == 0
    assert data.count(struct.pack("<I", (1 << 29) | 4)) == 1  # first part of the split record
    with recordio.RecordIOReader(rec) as reader:
        assert reader.keys == [key * 10 for key in range(len(payloads))]
        assert [reader.read_idx(key * 10) for key in reversed(range(len(payloads)))] == payloads[::-1]
        assert list(reader) == payloads
    idx.unlink()
    with recordio.RecordIOReader(rec) as reader:  # offsets found by scanning
        assert reader.keys == list(range(len(payloads)))
        assert reader.read_idx(3) == payloads[3]


def test_recordio_index_any_spelling_gives_the_same_offsets_and_bad_lines_are_named(tmp_path):
    rec = tmp_path / "d.rec"
    with recordio.RecordIOWriter(rec, tmp_path / "d.idx") as writer:
        for key in range(4):
            writer.write(bytes([key]) * 8, key=key)
    lines = (tmp_path / "d.idx").read_text().splitlines()
    # Unsorted, a blank line, spaces, a repeated key (the last line wins, as in a dict).
    (tmp_path / "odd.idx").write_text("\n".join([lines[2], "", lines[0].replace("\t", "  "), lines[3], lines[1],
                                                 lines[1].split("\t")[0] + "\t" + lines[2].split("\t")[1]]) + "\n")
    with recordio.RecordIOReader(rec) as fast, recordio.RecordIOReader(rec, tmp_path / "odd.idx") as slow:
        assert fast.keys == slow.keys == [0, 1, 2, 3] and 4 not in fast and 2 in slow
        assert [slow.read_idx(key) for key in range(4)] == [b"\0" * 8, b"\2" * 8, b"\2" * 8, b"\3" * 8]
        assert [fast.read_idx(key) for key in range(4)] == [bytes([key]) * 8 for key in range(4)]
        with pytest.raises(BadInputError, match="no record with key 7"):
            fast.read_idx(7)
    (tmp_path / "bad.idx").write_text(lines[0] + "\n" + "1\t1.5\n")
    with pytest.raises(BadInputError, match=r"line 2: expected `key<TAB>offset`"):
        recordio.RecordIOReader(rec, tmp_path / "bad.idx")


def test_recordio_rejects_garbage_and_truncation(tmp_path):
    bad = tmp_path / "bad.rec"
    bad.write_bytes(b"\xff\xd8\xff\xe0" * 8)
    with pytest.raises(BadInputError, match="bad magic") as error:
        recordio.RecordIOReader(bad)
    assert str(bad) in str(error.value)
    good = tmp_path / "good.rec"
    with recordio.RecordIOWriter(good) as writer:
        writer.write(b"x" * 100)
    cut = tmp_path / "cut.rec"
    cut.write_bytes(good.read_bytes()[:50])
    with pytest.raises(BadInputError, match="runs past the end"):
        recordio.RecordIOReader(cut)
    with pytest.raises(DataNotFoundError):
        recordio.RecordIOReader(tmp_path / "absent.rec")


def test_insightface_rec_round_trip(tmp_path):
    images = [_jpeg(index) for index in range(7)]
    labels = [2, 0, 1, 0, 2, 2, 1]
    rec = tmp_path / "train.rec"
    assert recordio.write_insightface_rec(rec, zip(images, labels)) == 7
    assert (tmp_path / "property").read_text().strip() == "3,112,112"
    with recordio.read_insightface_rec(rec) as record:
        assert len(record) == 7 and record.num_classes == 3 and record.image_size == (112, 112)
        assert record.image_keys.tolist() == list(range(1, 8))
        read = list(record)
        # Grouped by label, stable within a label, as InsightFace expects.
        order = sorted(range(7), key=lambda index: labels[index])
        assert read == [(images[index], labels[index]) for index in order]
        assert record.labels().tolist() == sorted(labels)
        header = recordio.unpack_ir_record(record.reader.read_idx(0))
        assert header[0] == 2 and header[1].tolist() == [8.0, 11.0]
        identity = recordio.unpack_ir_record(record.reader.read_idx(9))  # label 1
        assert identity[1].tolist() == [3.0, 5.0]
    (tmp_path / "property").unlink()
    with recordio.read_insightface_rec(rec) as record:
        assert record.num_classes == 3 and record.image_size is None


def test_rec_with_vector_labels_and_no_header(tmp_path):
    """Plain MXNet image records (no InsightFace header) with label vectors: label[0] counts."""
    rec = tmp_path / "plain.rec"
    with recordio.RecordIOWriter(rec, tmp_path / "plain.idx") as writer:
        writer.write(recordio.pack_ir_record(1.0, b"img-a"), key=0)
        writer.write(recordio.pack_ir_record([4.0, 9.0], b"img-b"), key=1)
    with recordio.read_insightface_rec(rec) as record:
        assert list(record) == [(b"img-a", 1), (b"img-b", 4)]


def test_write_insightface_rec_needs_contiguous_labels(tmp_path):
    with pytest.raises(BadInputError, match="without gaps"):
        recordio.write_insightface_rec(tmp_path / "x.rec", [(b"a", 0), (b"b", 2)])


# --- TFRecord ----------------------------------------------------------------------------------


def test_tfrecord_round_trip(tmp_path):
    from mobiface_tf.data import tfrecords

    samples = [(_jpeg(1), 0, "alice"), (_jpeg(2), 3, ""), (b"\x89PNG-ish", 1, "bob")]
    path = tmp_path / "faces.tfrecord"
    assert tfrecords.write_tfrecord(path, samples) == 3
    assert list(tfrecords.read_tfrecord(path)) == samples
    path.write_bytes(path.read_bytes()[:-9])
    with pytest.raises(BadInputError, match="record 2"):
        list(tfrecords.read_tfrecord(path))
    with pytest.raises(DataNotFoundError):
        tfrecords.tfrecord_files(tmp_path / "none*.tfrecord")


# --- verification .bin -------------------------------------------------------------------------


def _faces(count):
    """Smooth images (JPEG keeps them within a few levels) with a per-image random tint."""
    rng = np.random.default_rng(count)
    ramp = np.linspace(0, 160, 112, dtype=np.float32)
    base = ramp[:, None, None] + ramp[None, :, None] * 0.5
    tints = rng.uniform(0, 90, (count, 1, 1, 3)).astype(np.float32)
    return np.clip(base[None] + tints, 0, 255).astype(np.uint8)


def test_verification_bin_round_trip_png_exact(tmp_path):
    images, issame = _faces(6), [True, False, True]
    path = tmp_path / "lfw.bin"
    write_verification_bin(path, images, issame, image_format="PNG")
    loaded, loaded_same = load_verification_bin(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (6, 112, 112, 3)
    np.testing.assert_array_equal(loaded, images)
    assert loaded_same.dtype == bool and loaded_same.tolist() == issame


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_verification_bin_numpy_issame_and_jpeg(tmp_path, protocol):
    """Files with a NumPy bool array (and uint8-array images) load under every protocol."""
    images = _faces(4)
    bins = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=95)
        bins.append(np.frombuffer(buffer.getvalue(), np.uint8) if protocol == 5 else buffer.getvalue())
    path = tmp_path / "agedb_30.bin"
    with open(path, "wb") as handle:
        pickle.dump((bins, np.array([False, True])), handle, protocol=protocol)
    loaded, issame = load_verification_bin(path)
    assert issame.tolist() == [False, True]
    assert np.abs(loaded.astype(int) - images).mean() < 3  # JPEG-close, not garbage


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_verification_bin_crafted_to_run_code_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.bin"
    with open(path, "wb") as handle:
        pickle.dump(([_RunsCode(marker), b"x"], [True]), handle, protocol=protocol)
    with pytest.raises(BadInputError, match="unsafe pickle.*system") as error:
        load_verification_bin(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        (lambda: (np.array([1.5]), [True]), "unsafe pickle.*dtype"),
        (lambda: (["a"], [True]), "two images per pair"),
        (lambda: ([b"x", b"y"], [1]), "list of bools"),
        (lambda: {"bins": []}, "pickled pair"),
        (lambda: ([b"not an image", b"x"], [True]), "image 0"),
        (lambda: (np.zeros(2, dtype=object), [True]), "unsafe pickle.*dtype"),
    ],
)
def test_verification_bin_bad_structure(tmp_path, payload, message):
    path = tmp_path / "bad.bin"
    with open(path, "wb") as handle:
        pickle.dump(payload(), handle, protocol=2)
    with pytest.raises(BadInputError, match=message):
        load_verification_bin(path)


def test_verification_bin_wrong_size_and_not_a_pickle(tmp_path):
    path = tmp_path / "small.bin"
    write_verification_bin(path, _faces(2)[:, :96], [True])
    with pytest.raises(BadInputError, match="image 0 is 112x96"):
        load_verification_bin(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(BadInputError, match="not a verification .bin"):
        load_verification_bin(path)


# --- mobiface-convert ---------------------------------------------------------------------------


def test_convert_tree_rec_tfrecord_tree_round_trip(face_tree, tmp_path):
    from mobiface_tf.cli.convert import convert

    (face_tree / "b_person" / "broken.jpg").write_bytes(b"this is not an image")
    log = []
    rec = tmp_path / "out" / "faces.rec"
    summary = convert(face_tree, rec, log=log.append)
    assert summary["written"] == 6 and summary["classes"] == 3
    assert sorted(os.path.basename(source) for source, _ in summary["skipped"]) == ["broken.jpg", "notes.txt"]
    assert "6 images of 3 identities" in log[0]
    tfrecord = tmp_path / "faces.tfrecord"
    assert convert(rec, tfrecord, log=log.append)["written"] == 6
    back = tmp_path / "back"
    assert convert(tfrecord, back, log=log.append)["written"] == 6
    paths, labels, names = sources.list_identity_tree(back)
    original_paths, original_labels, _ = sources.list_identity_tree(face_tree)
    original_labels = original_labels[["broken" not in path for path in original_paths]]
    assert names == ["0", "1", "2"]  # a .rec carries labels, not names
    assert labels.tolist() == original_labels.tolist()
    original = [open(path, "rb").read() for path in original_paths if "broken" not in path]
    assert [open(path, "rb").read() for path in paths] == original
    with pytest.raises(BadInputError, match="exists"):
        convert(face_tree, rec, log=log.append)
    named = tmp_path / "named"
    convert(face_tree, tmp_path / "named.tfrecord", log=log.append)
    convert(tmp_path / "named.tfrecord", named, log=log.append)
    assert sources.list_identity_tree(named)[2] == ["a_person", "b_person", "c_person"]


def test_convert_command_reports_one_line_error(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "mobiface-convert")
    result = subprocess.run(
        [script, f"--input={tmp_path / 'absent'}", f"--output={tmp_path / 'x.rec'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == DataNotFoundError.exit_code
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'absent'}: no such folder")
