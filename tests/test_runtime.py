"""The TensorFlow-free runtime: `mobiface` with a .tflite model and the LiteRT detector, run with
TensorFlow, Keras, mtcnn and matplotlib made unimportable (tests/runtime_bootstrap.py), on LFW photos."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobiface_tf.errors import MissingDependencyError

BOOTSTRAP = Path(__file__).resolve().parent / "runtime_bootstrap.py"
# What the runtime may load besides the standard library: the ai-edge-litert, NumPy,
# Pillow and absl, the package itself, and what Python's start-up puts there (editable installs).
ALLOWED = {"ai_edge_litert", "numpy", "PIL", "absl", "mobiface_tf", "__main__"}


def run_without_train_extra(entry, *args, tmp_path, timeout=120):
    """(CompletedProcess, top-level non-stdlib modules loaded) of `entry` ("module:function") run with ARGS."""
    modules_out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.json"
    env = dict(os.environ, MOBIFACE_MODULES_OUT=str(modules_out))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, str(BOOTSTRAP), entry, *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, env=env)
    loaded = set(json.loads(modules_out.read_text())) if modules_out.exists() else None
    return result, loaded


def _foreign(loaded):
    return {name for name in loaded - ALLOWED if not name.startswith(("__editable__", "_distutils_hack"))}


def _lfw(lfw_dir, name, number=1):
    return lfw_dir / "images" / name / f"{name}_{number:04d}.jpg"


@pytest.mark.data
def test_verify_embed_enroll_identify_without_tensorflow(lfw_dir, tmp_path):
    mobiface = "mobiface_tf.cli.mobiface:run"
    same, loaded = run_without_train_extra(mobiface, "verify", _lfw(lfw_dir, "George_W_Bush", 1),
                                           _lfw(lfw_dir, "George_W_Bush", 2), "--json", tmp_path=tmp_path)
    assert same.returncode == 0 and same.stderr == "", same.stderr
    assert _foreign(loaded) == set(), loaded
    different, _ = run_without_train_extra(mobiface, "verify", _lfw(lfw_dir, "George_W_Bush", 1),
                                           _lfw(lfw_dir, "Colin_Powell", 1), "--json", tmp_path=tmp_path)
    assert different.returncode == 0, different.stderr
    same, different = json.loads(same.stdout), json.loads(different.stdout)
    assert same["verified"] and not different["verified"]
    assert different["similarity"] < same["threshold"] <= same["similarity"]
    assert len(same["faces_a"][0]["landmarks5"]) == 5

    people = ["Abdullah_Gul", "Adrien_Brody", "Colin_Powell"]
    root = tmp_path / "people"
    for name in people:
        (root / name).mkdir(parents=True)
        for number in (1, 2):
            (root / name / f"{name}_{number:04d}.jpg").write_bytes(_lfw(lfw_dir, name, number).read_bytes())
    out = tmp_path / "embeddings.npz"
    embedded, loaded = run_without_train_extra(mobiface, "embed", root, "--out", out, tmp_path=tmp_path)
    assert embedded.returncode == 0, embedded.stderr
    assert _foreign(loaded) == set(), loaded
    with np.load(out, allow_pickle=False) as stored:
        assert stored["embeddings"].shape == (6, 192)

    gallery = tmp_path / "gallery.npz"
    enrolled, loaded = run_without_train_extra(mobiface, "enroll", root, "--gallery", gallery, tmp_path=tmp_path)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled 6 faces of 3 identities" in enrolled.stdout and _foreign(loaded) == set()
    identified, loaded = run_without_train_extra(
        mobiface, "identify", _lfw(lfw_dir, "Colin_Powell", 3), "--gallery", gallery, "--json", tmp_path=tmp_path)
    assert identified.returncode == 0, identified.stderr
    assert _foreign(loaded) == set(), loaded
    (face,) = map(json.loads, identified.stdout.splitlines())
    assert face["identified"] == "Colin_Powell" and face["matches"][0]["name"] == "Colin_Powell"


@pytest.mark.data
def test_face_embedder_with_tflite_imports_no_tensorflow(lfw_dir, tmp_path):
    script = tmp_path / "embed.py"
    script.write_text(
        "from mobiface_tf.inference import FaceEmbedder\n"
        "def main():\n"
        f"    result = FaceEmbedder(num_threads=1).embed({str(_lfw(lfw_dir, 'Aaron_Eckhart'))!r})\n"
        "    print(result.embeddings.shape, round(float((result.embeddings ** 2).sum()), 4))\n")
    result, loaded = _run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "(1, 192) 1.0" and _foreign(loaded - {"embed"}) == set(), loaded


def _run_script(script, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(script.parent), os.environ.get("PYTHONPATH", "")]))
    modules_out = tmp_path / "modules-script.json"
    env["MOBIFACE_MODULES_OUT"] = str(modules_out)
    result = subprocess.run([sys.executable, str(BOOTSTRAP), f"{script.stem}:main"],
                            capture_output=True, text=True, timeout=60, env=env)
    return result, set(json.loads(modules_out.read_text())) if modules_out.exists() else None


@pytest.mark.parametrize("entry, args", [
    ("mobiface_tf.cli.train:run", []),
    ("mobiface_tf.cli.evaluate:run", ["--model=x.keras"]),
    ("mobiface_tf.export.cli:run", []),
    ("mobiface_tf.cli.align:run", ["--input_dir={tmp}/in", "--output_dir={tmp}/out"]),
])
def test_train_extra_entry_points_say_what_to_install(entry, args, tmp_path):
    from PIL import Image

    (tmp_path / "in" / "someone").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(tmp_path / "in" / "someone" / "a.jpg")
    args = [arg.format(tmp=tmp_path) for arg in args]
    result, _ = run_without_train_extra(entry, *args, tmp_path=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == MissingDependencyError.exit_code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "mobiface-tf[train]" in lines[0], result.stderr
