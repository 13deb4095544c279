"""Kill -9 in the middle of `mobiface-train`, rerun the same command: it resumes, never restarts."""

import os
import signal
import subprocess
import time

import pytest
import tensorflow as tf
from helpers import train_command, write_identity_tree


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_at_the_saved_step(tmp_path):
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(4)])
    checkpoints = tmp_path / "run" / "checkpoints"
    command = train_command(
        "--preset=smoke", f"--train_data={tree}", "--nolfw_train", "--input_size=32", "--embedding_size=16",
        "--max_steps=60", "--checkpoint_every=2", "--lr_boundaries=50", f"--run_dir={tmp_path / 'run'}",
        "--noprogress", "--keep_checkpoints=100",
    )
    env = dict(os.environ, MOBIFACE_WORK=str(tmp_path / "work"))
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    killed_after = None
    while time.monotonic() < deadline and first.poll() is None:
        latest = tf.train.latest_checkpoint(str(checkpoints))
        if latest and int(latest.rsplit("-", 1)[1]) >= 4:
            first.send_signal(signal.SIGKILL)
            killed_after = int(latest.rsplit("-", 1)[1])
            break
        time.sleep(0.2)
    first.wait(timeout=30)
    assert killed_after is not None, first.stdout.read().decode()[-2000:]
    assert first.returncode == -signal.SIGKILL
    saved = int(tf.train.latest_checkpoint(str(checkpoints)).rsplit("-", 1)[1])
    assert 4 <= saved < 60

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert f"at step {saved} (optimizer iterations {saved})" in second.stdout + second.stderr
    assert "done:" in second.stdout and "at step 60" in second.stdout

    reader = tf.train.load_checkpoint(str(checkpoints / "ckpt-60"))
    iterations = [n for n in reader.get_variable_to_shape_map() if n.startswith("optimizer/") and "iteration" in n]
    assert iterations and reader.get_tensor(iterations[0]) == 60
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 60
