"""Tests of export/bench.py: interleaved timing rows, the table, and `mobiface-bench --quick`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobiface_tf.export import bench, convert
from test_export import noise_faces, tiny_face_model

ROOT = Path(__file__).resolve().parents[1]
ANDROID_FIELDS = ("model", "precision", "delegate", "threads", "runs", "init_ms", "first_inference_ms",
                  "median_ms", "p90_ms", "mean_ms", "device")


@pytest.fixture(scope="module")
def variants():
    model = tiny_face_model("prelu")
    calibration = noise_faces(convert.MIN_CALIBRATION_FACES, seed=1)
    made = []
    for precision, rewrite in (("float32", True), ("int8", True), ("int8", False)):
        tflite = convert.convert(model, precision, calibration_faces=calibration, rewrite_prelu=rewrite)
        label = precision if rewrite else bench.NATIVE_PRELU_INT8
        made.append(bench.Variant("tiny", label, tflite, params=123, macs=4_560_000, input_dtype="?"))
    return made


def test_time_variants_rows_have_the_android_fields(variants):
    rows = bench.time_variants(variants, threads=(1, 2), runs=7, warmup=1, blocks=3, log=None)
    assert len(rows) == 6
    for row in rows:
        assert all(field in row for field in ANDROID_FIELDS)
        assert row["runs"] == 7 and row["delegate"] == "xnnpack"
        assert 0 < row["median_ms"] <= row["p90_ms"]
        assert row["init_ms"] > 0 and row["first_inference_ms"] > 0
    partitions = {row["precision"]: row["partitions"] for row in rows}
    assert partitions["float32"] == 1 and partitions["int8"] == 1
    assert partitions[bench.NATIVE_PRELU_INT8] > 1


def test_markdown_table_has_one_line_per_model_and_precision(variants):
    rows = bench.time_variants(variants, threads=(1,), runs=3, warmup=0, blocks=1, log=None)
    lines = bench.markdown_table(rows)
    assert len(lines) == 2 + 3
    assert "1.00x" in lines[2]  # float32 against itself
    assert "PRELU" in lines[4]  # the native int8 row names the op left outside the delegate


def test_time_variants_rejects_zero_runs(variants):
    with pytest.raises(ValueError, match="runs=0"):
        bench.time_variants(variants, runs=0, log=None)


@pytest.mark.slow
def test_bench_cli_quick_writes_table_and_json(tmp_path):
    env = dict(os.environ, MOBIFACE_WORK=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "mobiface_tf.export.bench_cli", "--quick",
                             f"--bench_dir={tmp_path / 'bench'}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((tmp_path / "bench" / "bench.json").read_text())
    precisions = {row["precision"] for row in saved["rows"]}
    assert precisions == {"float32", "int8", bench.NATIVE_PRELU_INT8}
    int8 = next(row for row in saved["rows"] if row["precision"] == "int8")
    assert int8["partitions"] == 1
    assert "| mobiface | int8 |" in (tmp_path / "bench" / "bench.md").read_text()
    assert np.isfinite(int8["median_ms"])
