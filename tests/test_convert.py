"""mobiface-convert on damaged datasets: undecodable records, zeroed regions and truncated tails are
skipped and counted, the rest converted; outputs appear only complete (a killed run leaves none)."""

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.cli.convert import convert
from mobiface_tf.data import recordio, sources
from mobiface_tf.errors import BadInputError, DataNotFoundError


def _jpeg(seed, size=112):
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _samples(count=30, classes=3):
    return [(_jpeg(index), index % classes) for index in range(count)]


def _rec(path, samples):
    recordio.write_insightface_rec(path, samples)
    return path


def _reasons(summary):
    return [reason for _, reason in summary["skipped"]]


def test_a_rec_record_whose_bytes_are_not_an_image_is_skipped_not_written(tmp_path):
    samples = _samples(6)
    samples[2] = (b"these bytes are no image at all", samples[2][1])
    samples[4] = (_jpeg(99)[:300], samples[4][1])  # a JPEG cut short
    rec = _rec(tmp_path / "in.rec", samples)
    summary = convert(rec, tmp_path / "tree", log=lambda line: None)
    assert summary["written"] == 4 and len(summary["skipped"]) == 2
    assert any("not an image" in reason for reason in _reasons(summary))
    assert any("truncated or corrupt image" in reason for reason in _reasons(summary))
    written = sources.list_image_files(tmp_path / "tree").paths
    assert len(written) == 4 and all(path.endswith(".jpg") for path in written)


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "both"])
def test_a_damaged_rec_converts_what_is_readable(tmp_path, damage):
    samples = _samples(30)
    rec = _rec(tmp_path / "in.rec", samples)
    data = bytearray(rec.read_bytes())
    if damage in ("zeroed", "both"):
        start = len(data) // 3
        data[start:start + 20_000] = bytes(20_000)  # about three records' worth
    if damage in ("truncated", "both"):
        data = data[:-(len(data) // 10)]  # the identity records and some images
    rec.write_bytes(bytes(data))
    (tmp_path / "in.idx").unlink()  # salvage works from the frames alone
    summary = convert(rec, tmp_path / "out.tfrecord", log=lambda line: None)
    reasons = " ".join(_reasons(summary))
    assert ("zeroed or corrupt" in reasons) == (damage != "truncated")
    assert ("truncated or corrupt tail" in reasons) == (damage != "zeroed")
    from mobiface_tf.data.tfrecords import read_tfrecord

    converted = list(read_tfrecord(tmp_path / "out.tfrecord"))
    assert 15 <= len(converted) == summary["written"] < 30
    originals = {image: label for image, label in samples}
    assert all(originals[image] == label for image, label, _ in converted)  # every one intact, labelled


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "undecodable"])
def test_a_damaged_tfrecord_converts_what_is_readable(tmp_path, damage):
    from mobiface_tf.data.tfrecords import write_tfrecord

    samples = [(image, label, f"person_{label}") for image, label in _samples(20)]
    if damage == "undecodable":
        samples[5] = (b"not an image", samples[5][1], samples[5][2])
    path = tmp_path / "in.tfrecord"
    write_tfrecord(path, samples)
    data = bytearray(path.read_bytes())
    if damage == "zeroed":
        data[len(data) // 2:len(data) // 2 + 15_000] = bytes(15_000)
    elif damage == "truncated":
        data = data[:-500]
    path.write_bytes(bytes(data))
    summary = convert(path, tmp_path / "out.rec", log=lambda line: None)
    reasons = " ".join(_reasons(summary))
    expected = {"zeroed": "zeroed or corrupt bytes", "truncated": "truncated or corrupt tail",
                "undecodable": "not an image"}[damage]
    assert expected in reasons
    with recordio.read_insightface_rec(tmp_path / "out.rec") as record:
        converted = list(record)
    assert len(converted) == summary["written"] and 10 <= len(converted) <= 19
    originals = {image: label for image, label, _ in samples}
    assert all(originals[image] == label for image, label in converted)


def test_nothing_usable_writes_nothing(tmp_path):
    rec = _rec(tmp_path / "in.rec", [(b"junk", 0), (b"more junk", 0)])
    with pytest.raises(DataNotFoundError, match="no usable image to convert; 2 skipped"):
        convert(rec, tmp_path / "out.tfrecord", log=lambda line: None)
    with pytest.raises(DataNotFoundError):
        convert(rec, tmp_path / "tree", log=lambda line: None)
    assert sorted(os.listdir(tmp_path)) == ["in.idx", "in.rec", "property"]


def test_output_paths_that_cannot_be_written_are_one_line_and_nothing_is_written(tmp_path):
    rec = _rec(tmp_path / "in.rec", _samples(3))
    (tmp_path / "folder.tfrecord").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInputError, match="is a folder"):
        convert(rec, tmp_path / "folder.tfrecord", log=lambda line: None)
    with pytest.raises(BadInputError, match="exists and is a file"):
        convert(rec, tmp_path / "file", log=lambda line: None)
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        convert(rec, tmp_path / "file" / "out.rec", log=lambda line: None)
    assert sorted(os.listdir(tmp_path)) == ["file", "folder.tfrecord", "in.idx", "in.rec", "property"]


_CONVERT = "from mobiface_tf.cli.convert import run; run()"


@pytest.mark.parametrize("target", ["out.rec", "out_tree"])
def test_a_killed_conversion_leaves_no_output_under_its_name(tmp_path, target):
    tree = tmp_path / "tree"
    for index in range(800):
        folder = tree / f"p{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.jpg").write_bytes(_jpeg(index % 50, size=64))
    output = tmp_path / target
    process = subprocess.Popen([sys.executable, "-c", _CONVERT, f"--input={tree}", f"--output={output}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert not output.exists()
    assert not output.with_suffix(".idx").exists() and not (tmp_path / "property").exists()
    # The rerun completes, and removes what the killed run left.
    result = subprocess.run([sys.executable, "-c", _CONVERT, f"--input={tree}", f"--output={output}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "800 images of 10 identities" in result.stdout + result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
