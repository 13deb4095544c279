"""The `mobiface` command, run as a user runs it: exit codes, one-line errors, real photos."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.errors import ImageReadError, ModelLoadError, MultipleFacesError, NoFaceError

_ENTRY = "from mobiface_tf.cli.mobiface import run; run()"


def mobiface(*args, timeout=300):
    """Run `mobiface ARGS` in a fresh interpreter; returns the CompletedProcess (text)."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command must be quiet by itself
    return subprocess.run(
        [sys.executable, "-c", _ENTRY, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_error(result, exit_code, *fragments):
    """Exit code as given, exactly one line on stderr, naming what went wrong, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from helpers import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras")


def _lfw(lfw_dir, name, number=1):
    return lfw_dir / "images" / name / f"{name}_{number:04d}.jpg"


def test_corrupt_file_exits_3_with_one_line(tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this JPEG stops here")
    result = mobiface("verify", corrupt, corrupt)
    assert_one_line_error(result, ImageReadError.exit_code, str(corrupt))
    assert result.stdout == ""


def test_missing_model_exits_6_with_one_line(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(photo)
    result = mobiface("verify", photo, photo, "--model", tmp_path / "absent.tflite")
    assert_one_line_error(result, ModelLoadError.exit_code, "absent.tflite", "no such model")


def test_usage_errors_exit_2():
    assert_one_line_error(mobiface("compare", "a.jpg"), 2, "usage: mobiface")
    assert_one_line_error(mobiface("verify", "only_one.jpg"), 2, "verify A.jpg B.jpg")


@pytest.mark.slow
@pytest.mark.data
def test_no_face_exits_4_and_several_faces_exit_5(tiny_model, lfw_dir, tmp_path):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    photo = _lfw(lfw_dir, "Aaron_Eckhart")
    assert_one_line_error(
        mobiface("verify", photo, blank, "--model", tiny_model, "--threshold", 0.5), NoFaceError.exit_code, "blank.png", "no face"
    )
    two = tmp_path / "two.png"
    canvas = Image.new("RGB", (300, 150))
    canvas.paste(Image.open(photo), (0, 0))
    canvas.paste(Image.open(_lfw(lfw_dir, "AJ_Cook")), (150, 0))
    canvas.save(two)
    result = mobiface("verify", photo, two, "--model", tiny_model, "--threshold", 0.5, "--face", "error")
    assert_one_line_error(result, MultipleFacesError.exit_code, "two.png", "2 faces")


@pytest.mark.slow
@pytest.mark.data
def test_verify_same_photo_json_and_exif_rotated_text(tiny_model, lfw_dir, tmp_path):
    photo = _lfw(lfw_dir, "Aaron_Eckhart")
    result = mobiface("verify", photo, photo, "--model", tiny_model, "--threshold", 0.5, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    record = json.loads(result.stdout)
    assert record["verified"] is True and record["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert record["threshold"] == 0.5 and record["far"] is None and record["threshold_source"] == "--threshold"
    assert len(record["faces_a"]) == 1 and len(record["faces_a"][0]["box"]) == 4
    assert set(record["timing_ms"]) == {"load", "detect", "align", "embed"}

    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90 degrees counter-clockwise; viewers turn it back
    rotated = tmp_path / "rotated.jpg"
    Image.open(photo).rotate(90, expand=True).save(rotated, quality=100, exif=exif)
    result = mobiface("verify", photo, rotated, "--model", tiny_model, "--threshold", 0.9)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("same person: similarity "), result.stdout
    assert float(result.stdout.split()[3]) > 0.97
    assert "face at x=" in result.stdout and "FAR unknown" in result.stdout


@pytest.mark.slow
@pytest.mark.data
def test_embed_enroll_identify(tiny_model, lfw_dir, tmp_path):
    people = ["Abdullah_Gul", "Adrien_Brody"]
    root = tmp_path / "people"
    for name in people:
        (root / name).mkdir(parents=True)
        for number in (1, 2):
            (root / name / f"{name}_{number:04d}.jpg").write_bytes(_lfw(lfw_dir, name, number).read_bytes())
    (root / people[0] / "corrupt.jpg").write_bytes(b"GIF89a nonsense")
    # Images count by content, as in verify and mobiface-align: a GIF, a TIFF, no extension.
    Image.open(_lfw(lfw_dir, people[1], 3)).save(root / people[1] / "third.gif")
    Image.open(_lfw(lfw_dir, people[1], 4)).save(root / people[1] / "fourth.tif")
    Image.open(_lfw(lfw_dir, people[1], 5)).save(root / people[1] / "fifth", format="PNG")
    (root / people[1] / "notes.txt").write_text("not a photo")

    out = tmp_path / "out" / "embeddings.npz"
    previous = os.umask(0o022)
    try:
        result = mobiface("embed", root, "--out", out, "--model", tiny_model)
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    assert "skipped: " in result.stderr and "corrupt.jpg" in result.stderr
    assert "notes.txt: not an image file" in result.stderr
    assert "embedded 7 faces from 7 of 7 images" in result.stdout and "skipped 2" in result.stdout
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    with np.load(out, allow_pickle=False) as stored:
        assert stored["embeddings"].shape == (7, 32)
        assert stored["boxes"].shape == (7, 4) and stored["landmarks5"].shape == (7, 5, 2)
        assert sorted(p.rsplit("/", 1)[1] for p in stored["skipped"]) == ["corrupt.jpg", "notes.txt"]
        np.testing.assert_allclose(np.linalg.norm(stored["embeddings"], axis=1), 1.0, rtol=1e-5)

    gallery = tmp_path / "gallery.npz"
    result = mobiface("enroll", root, "--gallery", gallery, "--model", tiny_model)
    assert result.returncode == 0, result.stderr
    assert "enrolled 7 faces of 2 identities" in result.stdout and "skipped 2 files" in result.stdout
    assert oct(gallery.stat().st_mode & 0o777) == oct(0o600)

    probe = root / people[1] / f"{people[1]}_0002.jpg"
    result = mobiface("identify", probe, "--gallery", gallery, "--model", tiny_model, "--aggregate", "max", "--top_k", 2, "--json")
    assert result.returncode == 0, result.stderr
    (face,) = map(json.loads, result.stdout.splitlines())
    assert [m["name"] for m in face["matches"]][0] == people[1]
    assert face["matches"][0]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert face["identified"] is None  # no threshold: ranking only


@pytest.mark.data
@pytest.mark.slow
def test_bundled_model_tells_same_from_different_people(lfw_dir):
    # No --model: the bundled int8 model. Pairs far from its threshold (0.441 at FAR 1e-3):
    # the same person scores ~0.83 here, these two different people ~-0.06.
    same = mobiface("verify", _lfw(lfw_dir, "George_W_Bush", 1), _lfw(lfw_dir, "George_W_Bush", 2), "--json")
    different = mobiface("verify", _lfw(lfw_dir, "George_W_Bush", 1), _lfw(lfw_dir, "Colin_Powell", 1), "--json")
    assert same.returncode == 0 and different.returncode == 0, same.stderr + different.stderr
    same, different = json.loads(same.stdout), json.loads(different.stdout)
    assert same["verified"] and not different["verified"]
    assert same["far"] == different["far"] == 0.001
    assert different["similarity"] < same["threshold"] <= same["similarity"]


@pytest.mark.slow
@pytest.mark.data
def test_enroll_never_replaces_or_shrinks_a_gallery_by_accident(tiny_model, lfw_dir, tmp_path):
    people = tmp_path / "people"
    for name in ("Abdullah_Gul", "Adrien_Brody"):
        (people / name).mkdir(parents=True)
        (people / name / "1.jpg").write_bytes(_lfw(lfw_dir, name).read_bytes())
    nobody = tmp_path / "nobody"
    (nobody / "Wall").mkdir(parents=True)
    Image.fromarray(np.full((150, 150, 3), 128, np.uint8)).save(nobody / "Wall" / "wall.png")
    gallery = tmp_path / "gallery.npz"
    assert mobiface("enroll", people, "--gallery", gallery, "--model", tiny_model).returncode == 0
    before = gallery.read_bytes()

    # Refused before the model loads, each in one line; the gallery is untouched.
    assert_one_line_error(mobiface("enroll", nobody, "--gallery", gallery, "--model", tiny_model), 2,
                          "gallery exists", "--append", "--replace")
    assert_one_line_error(mobiface("enroll", people, "--gallery", gallery, "--append", "--replace"), 2, "exclude")
    assert_one_line_error(mobiface("enroll", people, "--gallery", tmp_path, "--model", tiny_model), 2, "is a folder")
    # An enroll that finds no face writes nothing, even when told to replace.
    result = mobiface("enroll", nobody, "--gallery", gallery, "--replace", "--model", tiny_model)
    assert result.returncode == 1 and "enrolled nobody" in result.stdout and "unchanged" in result.stdout
    assert gallery.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery.npz", "nobody", "people"]


# `identify` of several photos: the gallery loaded once (counted by wrapping Gallery.load).
_COUNTING_ENTRY = """
import atexit, sys
from mobiface_tf import gallery
loads, original = [], gallery.Gallery.load.__func__
def counted(cls, *args, **kwargs):
    loads.append(1)
    return original(cls, *args, **kwargs)
gallery.Gallery.load = classmethod(counted)
atexit.register(lambda: print(f"gallery loads: {len(loads)}", file=sys.stderr))
from mobiface_tf.cli.mobiface import run
run()
"""


@pytest.fixture(scope="module")
def bundled_gallery(lfw_dir, tmp_path_factory):
    """A gallery of three LFW people (photos 1 and 2 each) enrolled with the bundled model."""
    root = tmp_path_factory.mktemp("people")
    for name in ("Abdullah_Gul", "Adrien_Brody", "Colin_Powell"):
        (root / name).mkdir()
        for number in (1, 2):
            (root / name / f"{name}_{number:04d}.jpg").write_bytes(_lfw(lfw_dir, name, number).read_bytes())
    gallery = root / "gallery.npz"
    result = mobiface("enroll", root, "--gallery", gallery)
    assert result.returncode == 0, result.stderr
    return gallery


@pytest.mark.data
def test_identify_a_folder_and_files_one_result_per_face(bundled_gallery, lfw_dir, tmp_path):
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "powell.jpg").write_bytes(_lfw(lfw_dir, "Colin_Powell", 3).read_bytes())
    (probes / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this JPEG stops here")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(probes / "blank.png")
    two = Image.new("RGB", (300, 150))
    two.paste(Image.open(_lfw(lfw_dir, "Adrien_Brody", 3)), (0, 0))
    two.paste(Image.open(_lfw(lfw_dir, "Abdullah_Gul", 3)), (150, 0))
    two.save(probes / "two.png")
    extra = _lfw(lfw_dir, "George_W_Bush", 1)  # not enrolled

    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-c", _COUNTING_ENTRY, "identify", str(probes), str(extra), "--gallery", str(bundled_gallery),
         "--face", "all", "--top_k", "2", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_image = {}
    for record in records:
        by_image.setdefault(Path(record["image"]).name, []).append(record)
    assert sorted(by_image) == ["George_W_Bush_0001.jpg", "powell.jpg", "two.png"]
    assert [r["identified"] for r in by_image["powell.jpg"]] == ["Colin_Powell"]
    assert sorted(r["identified"] for r in by_image["two.png"]) == ["Abdullah_Gul", "Adrien_Brody"]
    assert [r["identified"] for r in by_image["George_W_Bush_0001.jpg"]] == [None]
    assert all(len(r["matches"]) == 2 and len(r["face"]["box"]) == 4 and r["far"] == 0.001 for r in records)
    stderr = result.stderr
    assert "gallery loads: 1" in stderr
    # The progress line counts the images the folder walker found (the one image rule: corrupt.jpg
    # is not one, and is reported as skipped with the photos that fail).
    assert "4/4 photos" in stderr
    assert "skipped: " in stderr and "corrupt.jpg" in stderr and "blank.png" in stderr and "no face" in stderr
    assert "identified 4 faces in 3 of 5 photos; skipped 2" in stderr

    table = mobiface("identify", probes / "powell.jpg", extra, "--gallery", bundled_gallery)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("threshold 0.4408 (FAR 0.001") and lines[1].split()[:2] == ["identity", "best"]
    assert len(lines) == 4 and lines[2].split()[:2] == ["Colin_Powell"] * 2 and lines[3].split()[0] == "unknown"
    assert f" {probes / 'powell.jpg'}  [" in lines[2] and f" {extra}  [" in lines[3]  # then the next matches


@pytest.mark.data
def test_identify_batch_with_no_usable_photo_exits_1(bundled_gallery, tmp_path):
    (tmp_path / "corrupt.jpg").write_bytes(b"GIF89a nonsense")
    Image.fromarray(np.full((120, 120, 3), 200, np.uint8)).save(tmp_path / "blank.png")
    result = mobiface("identify", tmp_path / "corrupt.jpg", tmp_path / "blank.png", "--gallery", bundled_gallery, "--json")
    assert result.returncode == 1 and result.stdout == ""
    assert "identified 0 faces in 0 of 2 photos; skipped 2" in result.stderr
