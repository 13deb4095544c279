"""Two MultiWorkerMirroredStrategy workers on localhost CPUs train in lockstep and agree."""

import pytest
from helpers import assert_same_trainable_weights, run_workers, train_command, write_identity_tree


@pytest.mark.slow
def test_two_workers_finish_with_identical_weights(tmp_path):
    tree = write_identity_tree(tmp_path / "tree", [f"id{i}" for i in range(4)])
    run = tmp_path / "run"
    command = train_command(
        "--preset=smoke", f"--train_data={tree}", "--nolfw_train", "--input_size=32", "--embedding_size=16",
        "--max_steps=4", "--batch_size=8", f"--run_dir={run}", "--noprogress",
    )
    (chief_code, chief), (other_code, other) = run_workers(command, {"MOBIFACE_WORK": str(tmp_path / "work")})
    assert chief_code == 0, chief[-3000:]
    assert other_code == 0, other[-3000:]
    assert "done:" in chief and "at step 4" in chief

    assert_same_trainable_weights(run / "final.keras", run / "workers" / "worker-1" / "final.keras")
    assert (run / "workers" / "worker-1" / "checkpoints" / "ckpt-4.index").exists()
    assert (run / "checkpoints" / "ckpt-4.index").exists()
