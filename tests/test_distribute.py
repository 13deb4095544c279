"""Two MultiWorkerMirroredStrategy workers on localhost CPUs train in lockstep and agree."""

import json
import os
import subprocess

import keras
import numpy as np
import pytest
from helpers import free_port, train_command, write_identity_tree


@pytest.mark.slow
def test_two_workers_finish_with_identical_weights(tmp_path):
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(4)])
    run = tmp_path / "run"
    cluster = {"worker": [f"localhost:{free_port()}", f"localhost:{free_port()}"]}
    command = train_command(
        "--preset=smoke", f"--train_data={tree}", "--nolfw_train", "--input_size=32", "--embedding_size=16",
        "--max_steps=4", "--batch_size=8", f"--run_dir={run}", "--noprogress",
    )
    workers = []
    for index in range(2):
        env = dict(os.environ, MOBIFACE_WORK=str(tmp_path / "work"),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=300)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
    assert "done:" in outputs[0] and "at step 4" in outputs[0]

    chief = keras.saving.load_model(run / "final.keras")
    other = keras.saving.load_model(run / "workers" / "worker-1" / "final.keras")
    # Gradients are all-reduced, so trainable weights agree exactly; BatchNorm moving statistics
    # are per replica (no sync BN) and are expected to differ.
    for a, b in zip(chief.trainable_weights, other.trainable_weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    assert (run / "workers" / "worker-1" / "checkpoints" / "ckpt-4.index").exists()
    assert (run / "checkpoints" / "ckpt-4.index").exists()
