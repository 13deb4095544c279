"""Training configuration: presets, string overrides, JSON round trip, resume compatibility."""

import dataclasses

import pytest

from mobiface_tf.errors import BadInputError
from mobiface_tf.train import config as train_config
from mobiface_tf.train.config import TrainConfig, resolve_config


def test_paper_preset_is_section_4_2():
    config = resolve_config("paper")
    assert (config.batch_size, config.momentum, config.weight_decay) == (1024, 0.9, 5e-4)
    assert config.lr_boundaries == (40000, 60000, 80000) and config.max_steps == 100000
    assert config.lr_values() == pytest.approx([0.1, 0.01, 0.001, 0.0001])
    assert (config.loss, config.scale) == ("arcface", 64.0)


def test_every_preset_validates_and_names_only_real_fields():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for preset, values in train_config.PRESETS.items():
        assert set(values) <= names, preset
        assert resolve_config(preset).preset == preset


def test_string_overrides_are_parsed_by_field_type():
    config = resolve_config(
        "demo",
        {
            "batch_size": "32",
            "model": "mobilefacenet",
            "lr_boundaries": "10, 20",
            "mixed_precision": "true",
            "margin": "0.4",
            "embedding_size": "none",
            "train_dirs": "/a,/b",
        },
    )
    assert config.batch_size == 32 and config.model == "mobilefacenet"
    assert config.lr_boundaries == (10, 20) and config.mixed_precision is True
    assert config.margin == 0.4 and config.embedding_size is None
    assert config.train_dirs == ("/a", "/b")
    assert config.warmup_steps == train_config.PRESETS["demo"]["warmup_steps"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": "many"}, "batch_size='many'"),
        ({"batch_size": "0"}, "batch_size=0"),
        ({"lr_boundaries": "20,10"}, "lr_boundaries"),
        ({"val_folds": "11"}, "val_folds"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_overrides_name_the_field(overrides, message):
    with pytest.raises(BadInputError, match=message):
        resolve_config("smoke", overrides)


def test_unknown_preset_is_named():
    with pytest.raises(BadInputError, match="fast"):
        resolve_config("fast")


def test_json_round_trip(tmp_path):
    config = resolve_config("smoke", {"lr_boundaries": "3,5", "val_folds": "9,10"})
    (tmp_path / "config.json").write_text(config.to_json())
    assert train_config.load_config(tmp_path) == config
    assert train_config.load_config(tmp_path / "nowhere") is None


def test_resume_allows_longer_runs_but_not_other_models(tmp_path):
    saved = resolve_config("smoke")
    train_config.check_resume_compatible(saved, resolve_config("smoke", {"max_steps": "50"}), tmp_path)
    with pytest.raises(BadInputError, match="model: 'mobiface' -> 'mobilefacenet'"):
        train_config.check_resume_compatible(saved, resolve_config("smoke", {"model": "mobilefacenet"}), tmp_path)


def test_resume_compares_paths_not_their_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved = resolve_config("smoke", {"run_dir": "runs/a", "train_dirs": "data/x,data/y", "teacher": "t.tflite"})
    same = resolve_config("smoke", {"run_dir": str(tmp_path / "runs" / "a"), "train_dirs": f"{tmp_path}/data/x,data/y",
                                    "teacher": "./t.tflite"})
    train_config.check_resume_compatible(saved, same, tmp_path)
    with pytest.raises(BadInputError, match="train_dirs"):
        train_config.check_resume_compatible(saved, resolve_config("smoke", {"run_dir": "runs/a",
                                                                             "train_dirs": "data/x",
                                                                             "teacher": "t.tflite"}), tmp_path)
