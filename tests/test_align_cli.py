"""mobiface-align end to end: aligned tree, failure report, resume, include list, bad arguments."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data.align import TEMPLATE_112


# What TensorFlow prints at start-up on a machine without a GPU, before its log level applies.
STARTUP_NOISE = ("absl::InitializeLog", "oneDNN", "cuda", "cuInit")


def _run_align(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "mobiface_tf.cli.align", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _report(output_dir):
    with open(output_dir / "align_report.csv", newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


@pytest.fixture()
def raw_tree(tmp_path):
    """Two identities of small photos, one bad file of each kind, and their landmark file."""
    rng = np.random.default_rng(3)
    root = tmp_path / "raw"
    points = TEMPLATE_112 * 0.6 + 10  # a face about 70 px wide in a 90x90 photo
    lines = ["# image\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\tx5\ty5"]
    # Images are recognised by content: a GIF, a TIFF and a PNG without extension count.
    formats = {"a4.gif": "GIF", "a5.tif": "TIFF", "a6": "PNG"}
    for identity, files in {"alice": ["a1.jpg", "a2.png", "a3.jpg", *formats], "bob": ["b1.webp", "b2.jpg"]}.items():
        (root / identity).mkdir(parents=True)
        for name in files:
            Image.fromarray(rng.integers(0, 256, (90, 90, 3), dtype=np.uint8)).save(
                root / identity / name, format=formats.get(name))
            coords = points if name != "a3.jpg" else np.full((5, 2), 30.0)  # degenerate
            lines.append("\t".join([f"{identity}/{name}", *(f"{v:.2f}" for v in coords.ravel())]))
    (root / "bob" / "b3.jpg").write_text("not a photo")  # not an image, listed with its reason
    lines.append("\t".join(["bob/b3.jpg", *(f"{v:.2f}" for v in points.ravel())]))
    Image.new("RGB", (90, 90)).save(root / "bob" / "b4.jpg")  # no landmarks in the file
    landmarks = tmp_path / "landmarks.txt"
    landmarks.write_text("\n".join(lines) + "\n")
    return root, landmarks


def test_landmark_mode_aligns_reports_and_resumes(raw_tree, tmp_path):
    root, landmarks = raw_tree
    out = tmp_path / "aligned"
    result = _run_align(f"--input_dir={root}", f"--output_dir={out}", f"--landmarks={landmarks}", "--workers=2")
    assert result.returncode == 0, result.stderr
    assert "aligned 7, skipped-existing 0, failed 3" in result.stdout
    written = sorted(path.relative_to(out).as_posix() for path in out.rglob("*.jpg"))
    assert written == ["alice/a1.jpg", "alice/a2.jpg", "alice/a4.jpg", "alice/a5.jpg", "alice/a6.jpg",
                       "bob/b1.jpg", "bob/b2.jpg"]
    for path in out.rglob("*.jpg"):
        with Image.open(path) as crop:
            assert crop.size == (112, 112) and crop.mode == "RGB" and crop.format == "JPEG"
    report = _report(out)
    assert {path: row["reason"] for path, row in report.items()} == {
        "alice/a3.jpg": "bad_landmarks",
        "bob/b3.jpg": "not_an_image",
        "bob/b4.jpg": "no_landmarks",
    }
    assert "not an image" in report["bob/b3.jpg"]["detail"]
    assert "degenerate" in report["alice/a3.jpg"]["detail"]
    assert not list(out.rglob(".*partial"))

    # A rerun skips finished crops and retries only what is missing.
    (out / "bob" / "b1.jpg").unlink()
    again = _run_align(f"--input_dir={root}", f"--output_dir={out}", f"--landmarks={landmarks}", "--workers=1")
    assert again.returncode == 0, again.stderr
    assert "aligned 1, skipped-existing 6, failed 3" in again.stdout
    assert (out / "bob" / "b1.jpg").exists()
    # A rerun that only retries the unusable photos (all failing again) still succeeds: the tree
    # is finished, and the trainer, which reruns alignment to finish trees, must not stop there.
    third = _run_align(f"--input_dir={root}", f"--output_dir={out}", f"--landmarks={landmarks}", "--workers=1")
    assert third.returncode == 0, third.stderr
    assert "aligned 0, skipped-existing 7, failed 3" in third.stdout


def test_include_list_restricts_identities(raw_tree, tmp_path):
    root, landmarks = raw_tree
    include = tmp_path / "include.txt"
    include.write_text("# identities\nalice\n")
    out = tmp_path / "aligned"
    result = _run_align(
        f"--input_dir={root}", f"--output_dir={out}", f"--landmarks={landmarks}", f"--include={include}", "--workers=1"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.parent.name for path in out.rglob("*.jpg")) == ["alice"] * 5
    assert set(_report(out)) == {"alice/a3.jpg"}


def test_missing_input_dir_is_one_line_and_non_zero(tmp_path):
    result = _run_align(f"--input_dir={tmp_path / 'nowhere'}", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "nowhere" in lines[-1]
    assert "Traceback" not in result.stderr


def test_output_dir_equal_to_input_dir_is_refused(raw_tree):
    root, landmarks = raw_tree
    result = _run_align(f"--input_dir={root}", f"--output_dir={root}", f"--landmarks={landmarks}")
    assert result.returncode != 0
    assert "must differ" in result.stderr


def test_every_file_failing_exits_non_zero(raw_tree, tmp_path):
    root, _ = raw_tree
    empty_landmarks = tmp_path / "empty.txt"
    empty_landmarks.write_text("# nothing\n")
    result = _run_align(f"--input_dir={root}", f"--output_dir={tmp_path / 'out'}", f"--landmarks={empty_landmarks}")
    assert result.returncode == 1
    assert "aligned 0" in result.stdout


@pytest.mark.data
@pytest.mark.slow
def test_detector_mode_on_real_faces_and_a_blank_photo(lfw_dir, tmp_path):
    root = tmp_path / "raw"
    (root / "lfw").mkdir(parents=True)
    for name in ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Zico/Zico_0001.jpg"]:
        (root / "lfw" / name.split("/")[1]).write_bytes((lfw_dir / "images" / name).read_bytes())
    Image.new("RGB", (120, 120), (128, 128, 128)).save(root / "lfw" / "blank.png")
    out = tmp_path / "aligned"
    result = _run_align(f"--input_dir={root}", f"--output_dir={out}", "--workers=2")
    assert result.returncode == 0, result.stderr
    assert "aligned 2, skipped-existing 0, failed 1" in result.stdout
    # Quiet starts: neither the command nor its spawned workers print TensorFlow's start-up lines.
    assert not [line for line in result.stderr.splitlines() if any(n in line for n in STARTUP_NOISE)]
    assert {path: row["reason"] for path, row in _report(out).items()} == {"lfw/blank.png": "no_face"}
    assert (out / "lfw" / "Zico_0001.jpg").exists()


def test_output_names_keep_the_tree_and_number_faces_for_policy_all():
    from mobiface_tf.cli.align import output_relpath

    assert output_relpath("alice/IMG_01.PNG", "largest").as_posix() == "alice/IMG_01.jpg"
    assert output_relpath("alice/photo.v2.jpeg", "single").as_posix() == "alice/photo.v2.jpg"
    assert output_relpath("alice/group.jpg", "all").as_posix() == "alice/group_0.jpg"
