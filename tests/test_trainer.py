"""The main training stage on tiny synthetic data: run folder, validation records, divergence, warm start,
checks before any work."""

import json
import os
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import tiny_train_config, train_command, write_tiny_insightface_folder

from mobiface_tf.errors import BadInputError, ModelLoadError, TrainingDivergedError
from mobiface_tf.train import trainer
from mobiface_tf.train.config import resolve_config


@pytest.mark.slow
def test_train_writes_the_documented_run_folder(tmp_path, tiny_data):
    tree, lfw = tiny_data
    config = tiny_train_config(tmp_path, tree, lfw, eval_every="3", max_steps="6")
    summary = trainer.train(config, log=lambda line: None)
    run = tmp_path / "run"
    assert summary["step"] == 6 and summary["resumed_from"] == 0
    assert json.loads((run / "config.json").read_text())["max_steps"] == 6

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]
    assert all(0.0 <= r["lfw_accuracy"] <= 1.0 and np.isfinite(r["loss"]) for r in records)
    assert records[0]["lr"] == pytest.approx(0.01) and records[1]["lr"] == pytest.approx(0.001)

    for name in ("best.keras", "final.keras"):
        model = keras.saving.load_model(run / name)
        assert model.output_shape == (None, 16)
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-6")

    tags = set()
    for event_file in (run / "logs").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    assert {"loss", "lr", "images_per_s", "lfw_accuracy"} <= tags


@pytest.mark.slow
def test_an_insightface_folder_trains_reports_each_bin_chooses_best_on_one_and_counts_corrupt_faces(
        tmp_path, monkeypatch):
    from mobiface_tf.data.recordio import IR_SIZE, RecordIOReader

    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    folder = write_tiny_insightface_folder(tmp_path / "faces_emore")
    with RecordIOReader(folder / "train.rec") as reader:
        image_start = reader.offset(3) + 8 + IR_SIZE  # frame header, IRHeader, then the JPEG
    data = bytearray((folder / "train.rec").read_bytes())
    data[image_start : image_start + 4] = b"XXXX"  # no longer an image: skipped and counted
    (folder / "train.rec").write_bytes(bytes(data))
    config = resolve_config("smoke", {"train_data": str(folder), "input_size": "32", "embedding_size": "16",
                                      "run_dir": str(tmp_path / "run"), "progress": "false", "eval_every": "3",
                                      "best_on": "cfp_fp", "sample_rate": "0.5"})
    lines = []
    summary = trainer.train(config, log=lines.append)
    assert summary["step"] == 6 and summary["num_classes"] == 5
    assert any("partial FC: 0.5 of the 5 class centres" in line for line in lines)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]
    for record in records:
        assert {"lfw_accuracy", "cfp_fp_accuracy", "cfp_fp_auc", "best_cfp_fp_accuracy"} <= set(record)
        assert record["best_on"] == "cfp_fp" and record["skipped_records"] >= 1 and "val_folds" not in record
    assert summary["best_accuracy"] == max(r["cfp_fp_accuracy"] for r in records)
    assert "cfp_fp " in lines[-1] and "(best cfp_fp " in lines[-1]
    tags = set()
    for event_file in (tmp_path / "run" / "logs").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    assert {"lfw_accuracy", "cfp_fp_accuracy"} <= tags


@pytest.mark.slow
def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_data):
    tree, lfw = tiny_data
    # Two sane steps (checkpointed at step 2), then a learning rate of 1e28.
    config = tiny_train_config(
        tmp_path, tree, lfw, lfw_train="false", eval_every="0", max_steps="20",
        learning_rate="0.01", lr_boundaries="2", lr_decay="1e30", checkpoint_every="2",
    )
    with pytest.raises(TrainingDivergedError, match="ckpt-2") as raised:
        trainer.train(config, log=lambda line: None)
    assert "\n" not in str(raised.value)
    run = tmp_path / "run"
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")
    assert not (run / "final.keras").exists()
    reader = tf.train.load_checkpoint(str(run / "checkpoints" / "ckpt-2"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


def _same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow
def test_init_from_a_run_folder_or_keras_file_then_resume_wins(tmp_path, tiny_data):
    tree, lfw = tiny_data
    first = tiny_train_config(tmp_path, tree, lfw, run_dir=str(tmp_path / "first"), max_steps="4")
    trainer.train(first, log=lambda line: None)
    trained = keras.saving.load_model(tmp_path / "first" / "final.keras").get_weights()
    strategy = tf.distribute.get_strategy()

    for source in (tmp_path / "first", tmp_path / "first" / "final.keras"):
        state = trainer.build_train_state(first, 23, strategy)
        assert not _same_weights(state.backbone.get_weights(), trained)
        lines = []
        trainer.warm_start(state, source, lines.append)
        assert _same_weights(state.backbone.get_weights(), trained), source
        assert "initialized" in lines[0] and int(state.optimizer.iterations.numpy()) == 0

    wider = tiny_train_config(tmp_path, tree, lfw, embedding_size="24")
    for source in (tmp_path / "first", tmp_path / "first" / "final.keras"):
        with pytest.raises(BadInputError, match="does not fit"):
            trainer.warm_start(trainer.build_train_state(wider, 23, strategy), source, print)
    with pytest.raises(ModelLoadError, match="no such run folder"):
        trainer.warm_start(trainer.build_train_state(first, 23, strategy), tmp_path / "nothing", print)

    # A fresh run starts from those weights at step 0; rerun, it resumes its own checkpoints.
    second = tiny_train_config(tmp_path, tree, lfw, run_dir=str(tmp_path / "second"), max_steps="2",
                     init_from=str(tmp_path / "first"))
    lines = []
    assert trainer.train(second, log=lines.append)["resumed_from"] == 0
    assert any(line.startswith("initialized model from") for line in lines)
    longer = tiny_train_config(tmp_path, tree, lfw, run_dir=str(tmp_path / "second"), max_steps="3")
    lines = []
    assert trainer.train(longer, log=lines.append)["resumed_from"] == 2
    assert not any(line.startswith("initialized") for line in lines)

    # From the command line, weights that do not fit are one line and exit 2, nothing after it.
    result = subprocess.run(
        train_command("--preset=smoke", f"--train_data={tree}", f"--lfw_dir={lfw}", f"--lfw_aligned={lfw / 'images'}",
                      "--input_size=32", "--embedding_size=24", "--noprogress", f"--run_dir={tmp_path / 'third'}",
                      f"--init_from={tmp_path / 'first'}"),
        capture_output=True, text=True, env={**os.environ, "MOBIFACE_WORK": str(tmp_path / "work")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "does not fit this model" in result.stderr and "unrestored" not in result.stderr


@pytest.mark.slow
def test_a_typo_fails_in_one_line_before_any_work_and_the_corrected_rerun_trains(tmp_path, tiny_data):
    tree, lfw = tiny_data
    run = tmp_path / "run"
    # No --train_data and no data where MOBIFACE_DATA points: had anything run before the check,
    # the error would be about aligning the missing data, not about the typo.
    env = {**os.environ, "MOBIFACE_WORK": str(tmp_path / "work"), "MOBIFACE_DATA": str(tmp_path / "nothing")}
    for flag, message, status in (("--model=mobifcae", "--model must be one of ['mobiface', ", 2),
                                  (f"--teacher={tmp_path / 'teacher.tflite'}", "no such file or folder (--teacher)", 7)):
        result = subprocess.run(train_command("--preset=smoke", flag, f"--run_dir={run}", "--noprogress"),
                                capture_output=True, text=True, env=env)
        assert result.returncode == status, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
        assert not run.exists() and not (tmp_path / "work").exists()
    summary = trainer.train(tiny_train_config(tmp_path, tree, lfw, model="mobiface", max_steps="2"), log=lambda line: None)
    assert summary["step"] == 2 and json.loads((run / "config.json").read_text())["model"] == "mobiface"



def test_train_export_and_make_share_one_default_run_folder(tmp_path, monkeypatch):
    from mobiface_tf import paths

    monkeypatch.setenv("MOBIFACE_WORK", str(tmp_path / "work"))
    for preset in ("demo", "paper"):
        assert trainer.prepare(resolve_config(preset)).run_dir == str(tmp_path / "work" / "runs" / "default")
    assert paths.default_run_dir() == tmp_path / "work" / "runs" / "default"
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "RUN             ?= $(MOBIFACE_WORK)/runs/default" in makefile
