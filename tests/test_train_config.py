"""Run configurations: presets, string overrides, choices and paths, generated flags, JSON, resume compatibility."""

import dataclasses
import json
import subprocess

import pytest

from mobiface_tf.errors import BadInputError, DataNotFoundError
from mobiface_tf.train import config as train_config
from mobiface_tf.train.config import FlipConfig, RunConfig, TrainConfig, resolve_config

from helpers import train_command


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
            "train_data": "/a,/b",
        },
    )
    assert config.batch_size == 32 and config.model == "mobilefacenet"
    assert config.lr_boundaries == (10, 20) and config.mixed_precision is True
    assert config.margin == 0.4 and config.embedding_size is None
    assert config.train_data == ("/a", "/b")
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
    saved = resolve_config("smoke", {"run_dir": "runs/a", "train_data": "data/x,data/y", "teacher": "t.tflite"})
    same = resolve_config("smoke", {"run_dir": str(tmp_path / "runs" / "a"), "train_data": f"{tmp_path}/data/x,data/y",
                                    "teacher": "./t.tflite"})
    train_config.check_resume_compatible(saved, same, tmp_path)
    with pytest.raises(BadInputError, match="train_data"):
        train_config.check_resume_compatible(saved, resolve_config("smoke", {"run_dir": "runs/a",
                                                                             "train_data": "data/x",
                                                                             "teacher": "t.tflite"}), tmp_path)


# --- every choice checked against its registry, paths before work, the shared base -------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": "mobifcae"}, r"--model must be one of \['mobiface', .*'mobilenet_v1'\]. Received `model='mobifcae'`"),
        ({"head": "avg"}, r"--head must be one of \['gdc', 'gap', 'fc'\]"),
        ({"activation": "swish"}, "activation='swish'"),
        ({"loss": "arcfase"}, r"--loss must be one of \[.*'none'\]"),
        ({"optimizer": "adamw"}, "optimizer='adamw'"),
        ({"augment": "blurry"}, r"--augment must be one of \['none', 'flip', 'full'.*\]. Received `augment='blurry'`"),
        ({"input_size": "8"}, "input_size=8"),
        ({"embedding_size": "-3"}, "embedding_size=-3"),
    ],
)
def test_every_choice_is_checked_against_its_registry(overrides, message):
    with pytest.raises(BadInputError, match=message):
        resolve_config("smoke", overrides)


def test_missing_input_paths_are_named_before_any_work(tmp_path):
    config = resolve_config("smoke", {"teacher": str(tmp_path / "teacher.tflite"), "train_data": str(tmp_path)})
    with pytest.raises(DataNotFoundError, match=r"teacher.tflite: no such file or folder \(--teacher\)"):
        config.check_paths()
    resolve_config("smoke", {"train_data": str(tmp_path), "run_dir": str(tmp_path / "new")}).check_paths()


def test_every_field_has_its_help_beside_it_and_the_stages_share_a_base():
    for config_class in (TrainConfig, FlipConfig):
        for field in dataclasses.fields(config_class):
            assert field.metadata["help"].endswith("."), (config_class.__name__, field.name)
    shared = {f.name for f in dataclasses.fields(RunConfig)}
    assert shared <= {f.name for f in dataclasses.fields(TrainConfig)} & {f.name for f in dataclasses.fields(FlipConfig)}
    assert {"batch_size", "lr_boundaries", "max_steps", "eval_every", "run_dir"} <= shared
    # Each stage keeps its own defaults for the shared fields.
    assert (TrainConfig().batch_size, FlipConfig().batch_size) == (1024, 64)
    assert (TrainConfig().lr_boundaries, FlipConfig().lr_boundaries) == ((40000, 60000, 80000), (700,))


def test_flags_are_generated_from_the_fields():
    from absl import flags

    from mobiface_tf.cli.common import config_flag_values, define_config_flags

    flag_values = flags.FlagValues()
    define_config_flags(FlipConfig, "test", flag_values=flag_values)
    flag_values(["prog", "--batch_size=32", "--noprogress", "--lr_boundaries=", "--flip_l2=relative",
                 "--from_run=runs/x"])
    values = config_flag_values(FlipConfig, flag_values=flag_values)
    assert values == {"batch_size": "32", "progress": False, "lr_boundaries": "", "flip_l2": "relative",
                      "from_run": "runs/x"}
    config = FlipConfig().with_overrides(values).validate()
    assert (config.batch_size, config.progress, config.lr_boundaries, config.flip_l2) == (32, False, (), "relative")
    assert "Weight of the cross-entropy" in flag_values["flip_ce_weight"].help
    with pytest.raises(BadInputError, match="--max_steps expects int. Received `max_steps='ten'`"):
        FlipConfig().with_overrides({"max_steps": "ten"})


def test_the_learning_rate_schedule_agrees_with_lr_at():
    config = resolve_config("smoke", {"lr_boundaries": "3,5", "learning_rate": "0.1", "lr_decay": "0.5"})
    schedule = config.lr_schedule()
    for step in range(8):
        assert float(schedule(step)) == pytest.approx(config.lr_at(step)), step
    assert [config.lr_at(s) for s in (0, 2, 3, 4, 5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert FlipConfig(lr_boundaries=()).lr_schedule() == FlipConfig().learning_rate


def test_config_json_is_read_in_one_place(tmp_path):
    assert train_config.read_config_json(tmp_path) is None
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BadInputError, match="unreadable config.json"):
        train_config.load_config(tmp_path)
    (tmp_path / "config.json").write_text(FlipConfig(from_run="r").to_json())
    assert train_config.load_config(tmp_path, FlipConfig).from_run == "r"
    with pytest.raises(BadInputError, match="not a training configuration"):
        train_config.load_config(tmp_path)


def test_run_folders_started_before_train_data_resume(tmp_path):
    # config.json of a run started when the field was `train_dirs`, and with no val_bins/best_on/sample_rate.
    old = json.loads(resolve_config("demo", {"train_data": "data/x"}).to_json())
    old["train_dirs"] = old.pop("train_data")
    for name in ("val_bins", "best_on", "sample_rate"):
        del old[name]
    (tmp_path / "config.json").write_text(json.dumps(old))
    saved = train_config.load_config(tmp_path)
    assert saved.train_data == ("data/x",) and saved.sample_rate == 1.0
    train_config.check_resume_compatible(saved, resolve_config("demo", {"train_data": "data/x"}), tmp_path)


def test_sample_rate_is_a_share():
    assert resolve_config("paper", {"sample_rate": "0.1"}).sample_rate == 0.1
    for value in ("0", "1.5"):
        with pytest.raises(BadInputError, match="sample_rate"):
            resolve_config("paper", {"sample_rate": value})


def test_the_old_train_dirs_flag_still_names_the_training_data(tmp_path):
    result = subprocess.run(train_command(f"--train_dirs={tmp_path / 'missing'}", f"--run_dir={tmp_path / 'run'}"),
                            capture_output=True, text=True)
    assert result.returncode == 7, result.stderr
    assert result.stderr.strip() == f"error: {tmp_path / 'missing'}: no such file or folder (--train_data)"
