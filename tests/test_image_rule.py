"""One rule for what counts as an image and one walker of image folders, used by every command;
the modules the TensorFlow-free `mobiface` commands will need stay free of TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data.images import IMAGE_FORMATS, image_format, load_rgb, readable_formats, verify_image
from mobiface_tf.errors import ImageReadError

ROOT = Path(__file__).resolve().parents[1]
# Folder walks outside the walker, each for something that is not a folder of images.
_OTHER_WALKS = {
    ("mobiface_tf/storage.py", "scandir"): "stale temporaries beside one file",
    ("mobiface_tf/storage.py", "iterdir"): "temporaries beside one file",
    ("mobiface_tf/embedding.py", "rglob"): "hashing every file of a model folder",
    ("mobiface_tf/eval/lfw.py", "glob"): "LFW's protocol names its photos <Name>/<Name>_NNNN.jpg",
    ("mobiface_tf/data/tfrecords.py", "glob"): "TFRecord shards (*.tfrecord*), not images",
    ("mobiface_tf/cli/convert.py", "iterdir"): "moving the converted tree into place",
    ("mobiface_tf/data/formats.py", "iterdir"): "whether a folder holds TFRecord shards, not images",
    ("mobiface_tf/data/formats.py", "glob"): "the verification .bin files beside a record dataset",
}


def _calls(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node.func.attr, node.lineno


def test_only_the_walker_lists_image_folders():
    offenders = []
    for path in sorted((ROOT / "mobiface_tf").rglob("*.py")) + sorted((ROOT / "export").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for name, line in _calls(path):
            if name in ("walk", "scandir", "rglob", "glob", "iterdir", "listdir"):
                if relative != "mobiface_tf/data/sources.py" and (relative, name) not in _OTHER_WALKS:
                    offenders.append(f"{relative}:{line} {name}")
    assert offenders == [], "list image folders with data/sources.py (list_image_files, scan_identity_tree)"


def test_no_module_keeps_its_own_list_of_image_extensions():
    offenders = []
    for path in sorted((ROOT / "mobiface_tf").rglob("*.py")) + sorted((ROOT / "export").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple) and sum(
                    isinstance(e, ast.Constant) and e.value in (".jpg", ".jpeg", ".png", ".bmp") for e in node.elts) >= 2:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("kind", sorted(set(readable_formats()) - {"MPO", "AVIF"}))
def test_every_format_of_the_rule_reads_by_content_whatever_the_name(tmp_path, kind):
    pixels = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    path = tmp_path / "no_extension"
    Image.fromarray(pixels).save(path, format=kind)
    assert image_format(path) == kind and verify_image(path) == kind
    assert load_rgb(path).shape == (24, 32, 3)


def test_files_that_are_not_images_by_the_rule(tmp_path):
    (tmp_path / "photo.jpg").write_text("a text file named like a photo")
    Image.new("RGB", (8, 8)).save(tmp_path / "drawing.ico")  # Pillow reads ICO; not a photo format here
    for name in ("photo.jpg", "drawing.ico"):
        with pytest.raises(ImageReadError, match="not an image file mobiface reads"):
            image_format(tmp_path / name)
        with pytest.raises(ImageReadError, match="not an image file mobiface reads"):
            load_rgb(tmp_path / name)
    assert "EPS" not in IMAGE_FORMATS  # Pillow decodes EPS by running Ghostscript


def test_the_tensorflow_free_modules_import_no_tensorflow():
    code = ("import sys; import mobiface_tf.gallery, mobiface_tf.data.images, mobiface_tf.data.sources, "
            "mobiface_tf.storage, mobiface_tf.embedding; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
