"""Tests for mobiface_tf.models.profile and the mobiface-profile command."""

import functools
import json
import os
import subprocess
import sys

import keras
import pytest

from mobiface_tf.cli import profile as profile_cli
from mobiface_tf.models import profile, registry


@functools.lru_cache(maxsize=None)
def full_size(name):
    return registry.build_model(name)


def test_macs_of_a_hand_counted_model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)  # 4x4x4 out
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)  # 4x4x8 out
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    conv = 4 * 4 * (3 * 3 * 3) * 4
    depthwise = 4 * 4 * (3 * 3 * 4 * 2)
    dense = 4 * 4 * 8 * 5
    assert profile.count_macs(model) == conv + depthwise + dense


def test_macs_walk_nested_models():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)], name="inner")
    inputs = keras.Input((6,))
    outer = keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))
    assert profile.count_macs(outer) == 6 * 3 + 3 * 2


def test_macs_need_a_fixed_input_size():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="unknown output size"):
        profile.count_macs(model)


@pytest.mark.parametrize(
    "name, low, high, pinned",
    [
        # The target band for MobiFace; MobileFaceNet's paper gives 221M.
        ("mobiface", 225e6, 240e6, 231_974_912),
        ("mobilefacenet", 220e6, 222e6, 220_965_376),
    ],
)
def test_macs_match_the_papers(name, low, high, pinned):
    macs = profile.count_macs(full_size(name))
    assert low <= macs <= high
    assert macs == pinned


def test_flip_head_costs_two_512_by_512_products():
    extra = profile.count_macs(full_size("flipped_mobiface")) - profile.count_macs(full_size("mobiface"))
    assert extra == 2 * 512 * 512


def test_params_and_float32_size():
    model = full_size("mobilefacenet")
    assert profile.count_params(model) == model.count_params() == 1_022_720
    assert profile.float32_size_bytes(model) == 4 * 1_022_720
    figures = profile.profile_model(model)
    assert figures["float32_mb"] == pytest.approx(4.09088)


def test_paper_sizes_cover_every_registered_model():
    assert set(profile.PAPER_MODEL_SIZE_MB) == set(registry.list_models())


def test_profile_rows_and_markdown_table():
    rows = profile_cli.profile_rows(["mobiface", "mobilefacenet"], head_variants=True)
    assert [(row["model"], row["head"]) for row in rows] == [
        ("mobiface", "gdc"),
        ("mobiface", "gap"),
        ("mobiface", "fc"),
        ("mobilefacenet", "gdc"),
    ]
    # The paper's size stands beside the default configuration only.
    assert [row["paper_mb"] for row in rows] == [9.3, None, None, 4.0]
    table = profile_cli.markdown_table(rows).splitlines()
    assert table[2] == "| mobiface | gdc | 2,597,120 | 232.0 M | 10.4 | 9.3 |"
    assert table[4] == "| mobiface | fc | 15,152,896 | 244.5 M | 60.6 | - |"
    assert len(table) == 2 + len(rows)


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mobiface_tf.cli.profile", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def test_cli_prints_json_for_chosen_models():
    result = _run_cli("--models=mobilefacenet", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["model"], row["params"], row["paper_mb"]) for row in rows] == [("mobilefacenet", 1_022_720, 4.0)]


def test_cli_rejects_an_unknown_model_in_one_line():
    result = _run_cli("--models=mobiface,resnet50")
    assert result.returncode == 2
    assert "error: --models: unknown ['resnet50']" in result.stderr
    assert "Traceback" not in result.stderr
