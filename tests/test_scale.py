"""Training at scale, CI-sized: an InsightFace dataset folder (train.rec, train.idx, property, lfw.bin) made
by the project's converter from the shared LFW, trained from the .rec on two local workers with partial FC,
validated on its .bin, then resumed. The larger figures come from `make bench-scale`."""

import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_same_trainable_weights, run_workers, train_command, write_lfw_insightface_folder

IDENTITIES, PER_IDENTITY, PAIRS = 300, 3, 40


def _classifier(checkpoint):
    return tf.train.load_checkpoint(str(checkpoint)).get_tensor("head/kernel/.ATTRIBUTES/VARIABLE_VALUE")


@pytest.mark.slow
@pytest.mark.data
def test_two_workers_train_from_an_insightface_folder_validate_on_its_bin_and_resume(tmp_path, lfw_dir):
    folder = tmp_path / "faces_synthetic"
    assert write_lfw_insightface_folder(folder, lfw_dir, IDENTITIES, PER_IDENTITY, PAIRS) == (
        IDENTITIES * PER_IDENTITY, IDENTITIES)
    assert (folder / "property").read_text().strip() == f"{IDENTITIES},112,112"
    run = tmp_path / "run"
    flags = ["--preset=smoke", f"--train_data={folder}", "--input_size=32", "--embedding_size=16", "--batch_size=16",
             "--sample_rate=0.1", "--eval_every=2", f"--run_dir={run}", "--noprogress"]
    env = {"MOBIFACE_WORK": str(tmp_path / "work")}

    (chief_code, chief), (other_code, other) = run_workers(train_command(*flags, "--max_steps=4"), env)
    assert (chief_code, other_code) == (0, 0), f"{chief[-3000:]}\n--- worker 1 ---\n{other[-3000:]}"
    assert f"{IDENTITIES * PER_IDENTITY} images of {IDENTITIES} identities (InsightFace .rec, identity count from " \
           "property)" in chief
    assert "done:" in chief and "at step 4" in chief
    saved = json.loads((run / "config.json").read_text())
    assert saved["val_bins"] == [str(folder / "lfw.bin")] and saved["best_on"] == "lfw" and not saved["lfw_train"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert all(0 <= r["lfw_accuracy"] <= 1 and r["best_on"] == "lfw" and r["skipped_records"] == 0 for r in records)
    assert (run / "best.keras").exists()
    worker = run / "workers" / "worker-1"
    assert_same_trainable_weights(run / "final.keras", worker / "final.keras")
    # Partial FC's sparse updates of the classifier, summed over both workers, agree too.
    np.testing.assert_array_equal(_classifier(run / "checkpoints" / "ckpt-4"), _classifier(worker / "checkpoints" / "ckpt-4"))

    # Rerun longer: both workers resume at step 4 from their own checkpoints.
    (chief_code, chief), (other_code, other) = run_workers(train_command(*flags, "--max_steps=6"), env)
    assert (chief_code, other_code) == (0, 0), f"{chief[-3000:]}\n--- worker 1 ---\n{other[-3000:]}"
    assert "at step 4 (optimizer iterations 4)" in chief
    assert "done:" in chief and "at step 6" in chief
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]
    assert_same_trainable_weights(run / "final.keras", worker / "final.keras")
    assert (worker / "checkpoints" / "ckpt-6.index").exists()
