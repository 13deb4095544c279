"""Quiet starts: native writes to fd 2 are held back, and kept for a traceback when something fails."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobiface_tf.quiet import native_stderr_silenced

ROOT = Path(__file__).resolve().parents[1]


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_native_writes_are_held_back_and_stderr_restored():
    result = _python("import os, sys\n"
                     "from mobiface_tf.quiet import native_stderr_silenced\n"
                     "with native_stderr_silenced():\n"
                     "    os.write(2, b'I0000 native chatter\\n'); print('python chatter', file=sys.stderr)\n"
                     "print('real warning', file=sys.stderr)")
    assert result.returncode == 0 and result.stderr == "real warning\n"


def test_a_failure_keeps_what_was_written_as_a_note():
    with pytest.raises(RuntimeError) as caught:
        with native_stderr_silenced():
            os.write(2, b"Didn't find op for builtin opcode\n")
            raise RuntimeError("Registration failed.")
    assert caught.value.__notes__ == ["Didn't find op for builtin opcode"]


def test_running_the_bundled_model_prints_nothing_on_stderr():
    # LiteRT announces "Created TensorFlow Lite XNNPACK delegate for CPU." on fd 2 when it applies it.
    result = _python("import numpy as np\n"
                     "from mobiface_tf.embedding import load_embedding_model\n"
                     f"model = load_embedding_model({str(ROOT / 'mobiface_tf/assets/mobiface.tflite')!r})\n"
                     "print(model.embed(np.zeros((1, 112, 112, 3), np.uint8)).shape)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 192)" and result.stderr == ""


@pytest.mark.data
def test_the_mtcnn_detector_from_python_prints_nothing_on_stderr(lfw_dir):
    # The library, not only the commands: mtcnn imports TensorFlow, whose start-up lines are native.
    photo = lfw_dir / "images" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    result = _python("from mobiface_tf.data.detect import FaceDetector\n"
                     f"print(len(FaceDetector().detect({str(photo)!r})))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1" and result.stderr == ""
