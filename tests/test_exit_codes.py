"""One exit-code table (docs/reliability.md) that every entry point follows, flag errors included;
output paths refused in one line with nothing written; evaluation refuses sets too small for its folds."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobiface_tf.errors import BadInputError, MobiFaceError

ROOT = Path(__file__).resolve().parents[1]


def _entry_points():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options.entry_points"]["console_scripts"].strip().splitlines()
    return {name.strip(): target.strip() for name, target in (line.split("=") for line in lines)}


ENTRY_POINTS = _entry_points()


def run(name, *args, timeout=300):
    """Run an entry point as its console script does, in a fresh interpreter."""
    module, function = ENTRY_POINTS[name].split(":")
    code = f"import sys; sys.argv[0] = {name!r}; from {module} import {function}; {function}()"
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # quiet by themselves
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def assert_usage_error(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_the_table_in_the_docs_is_the_errors_module():
    readme = (ROOT / "docs" / "reliability.md").read_text()
    table = readme[readme.index("| exit | meaning |"):]
    table = table.split("\n\n")[0]  # the table may end the page
    codes = {int(line.split("|")[1]) for line in table.splitlines()[2:]}
    classes, pending = [], MobiFaceError.__subclasses__()
    while pending:  # every error class, however deep
        classes.append(pending.pop())
        pending.extend(classes[-1].__subclasses__())
    errors = {error.exit_code for error in classes}
    assert len(errors) == len(classes), "two error classes share an exit code"
    # 1: nothing usable came out; 141: a closed output pipe (cli/common.run_main).
    assert codes == {0, 1, 130, 141} | errors


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_entry_point_exits_2_in_one_line_on_a_flag_error_and_0_on_help(name):
    assert_usage_error(run(name, "--no_such_flag=1"), "Unknown command line flag 'no_such_flag'")
    helped = run(name, "--help")
    assert helped.returncode == 0 and helped.stdout and not helped.stderr.strip(), helped.stderr


@pytest.mark.parametrize("name, args, fragment", [
    ("mobiface", ["verify", "a.jpg", "b.jpg", "--threshold=high"], "--threshold=high"),
    ("mobiface-align", ["--workers=two"], "--workers=two"),
    ("mobiface-eval", ["--flip=sideways"], "--flip=sideways"),
    ("mobiface-train", ["--batch_size=big"], "big"),
])
def test_bad_flag_values_are_usage_errors(name, args, fragment):
    assert_usage_error(run(name, *args), fragment)


def test_output_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    photos = tmp_path / "photos" / "someone"
    photos.mkdir(parents=True)
    (photos / "a.png").write_bytes(b"")
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    cases = [
        ("mobiface", ["embed", photos.parent, "--out", tmp_path], "--out file is a folder"),
        ("mobiface", ["embed", photos.parent, "--out", a_file / "e.npz"], "a_file is a file, not a folder"),
        ("mobiface", ["enroll", photos.parent, "--gallery", tmp_path], "--gallery file is a folder"),
        ("mobiface-align", [f"--input_dir={photos.parent}", f"--output_dir={a_file}"], "exists and is a file"),
        ("mobiface-convert", [f"--input={photos.parent}", f"--output={a_file}"], "exists and is a file"),
        ("mobiface-convert", [f"--input={photos.parent}", f"--output={tmp_path}"], "output file"),
    ]
    for name, args, fragment in cases:
        if name == "mobiface-convert" and args[1].endswith(str(tmp_path)):
            args = [args[0], f"--output={tmp_path / 'photos'}.rec"]
            (tmp_path / "photos.rec").mkdir()
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        assert_usage_error(run(name, *args), fragment)
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert a_file.read_text() == "keep"


@pytest.mark.slow
def test_mobiface_eval_refuses_its_out_file_and_a_two_pair_bin(tmp_path):
    from helpers import write_tiny_model

    from mobiface_tf.data.binsets import write_verification_bin

    model = write_tiny_model(tmp_path / "tiny.keras")
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    assert_usage_error(run("mobiface-eval", f"--model={model}", f"--out={a_file}", "--lfw_dir="),
                       "--out folder exists and is a file")
    faces = np.random.default_rng(0).integers(0, 255, (4, 112, 112, 3), dtype=np.uint8)
    write_verification_bin(tmp_path / "two.bin", faces, [True, False], image_format="PNG")
    result = run("mobiface-eval", f"--model={model}", f"--bin={tmp_path / 'two.bin'}", "--lfw_dir=",
                 f"--out={tmp_path / 'report'}", "--nocache")
    assert_usage_error(result, "2 pairs in 2 folds are too few for k-fold accuracy")


def test_kfold_accuracy_refuses_sets_too_small_and_warns_on_small_folds():
    from mobiface_tf.eval.verification import kfold_accuracy, verification_metrics

    with pytest.raises(BadInputError, match="2 pairs in 2 folds are too few"):
        kfold_accuracy([0.9, 0.1], [True, False], [0, 5])
    rng = np.random.default_rng(0)
    issame = np.tile([True, False], 60)
    scores = np.where(issame, 0.6, 0.2) + rng.normal(0, 0.2, issame.size)
    small = verification_metrics(scores, issame, np.arange(issame.size) % 10)
    assert small["warnings"] and "12 in the smallest of 10 folds" in small["warnings"][0]
    issame = np.tile([True, False], 300)
    scores = np.where(issame, 0.6, 0.2) + rng.normal(0, 0.2, issame.size)
    assert verification_metrics(scores, issame, np.arange(issame.size) % 10)["warnings"] == []
