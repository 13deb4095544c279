"""The Android core's committed detector steps are still what `data/detect_lite.py` computes (the Java test checks the other side)."""

import json

import pytest

import detector_golden


def test_committed_steps_are_what_detect_lite_computes():
    committed = json.loads(detector_golden.STEPS_FILE.read_text())
    assert committed == json.loads(json.dumps(detector_golden.steps())), (
        "steps.json is stale: rerun `python tests/detector_golden.py steps`")


def test_steps_file_stays_small():
    size = detector_golden.STEPS_FILE.stat().st_size
    assert size < 40_000, f"{size:,} bytes: keep the Java test resources small"


@pytest.mark.data
def test_recorded_photos_replay_every_network_call(lfw_dir, tmp_path):
    manifest = json.loads(detector_golden.write_photos(lfw_dir, tmp_path).read_text())
    for case in manifest["cases"]:
        networks = [call["network"] for call in case["calls"]]
        assert networks[-2:] == ["rnet", "onet"] and set(networks[:-2]) == {"pnet"}, case["name"]
        assert case["faces"], f"{case['name']}: the golden photos are chosen to hold faces"
        for call in case["calls"]:
            count = 1
            for side in call["input_shape"]:
                count *= side
            assert (tmp_path / call["input"]).stat().st_size == 4 * count
