"""The Android core's golden alignment files are still what `data/align.py` makes (the Java test checks the other side)."""

import gzip
import json

import numpy as np
import pytest

import alignment_golden


@pytest.mark.data
def test_committed_golden_crops_are_what_align_py_writes(lfw_dir):
    committed = json.loads((alignment_golden.GOLDEN_DIR / "cases.json").read_text())
    cases = alignment_golden.golden_cases(lfw_dir)
    assert committed == alignment_golden.manifest(cases), (
        "cases.json is stale: rerun `python tests/alignment_golden.py`")
    for name, (image, _, _, aligned) in cases.items():
        for filename, pixels in ((f"{name}.rgb.gz", image), (f"{name}.aligned.rgb.gz", aligned)):
            stored = gzip.decompress((alignment_golden.GOLDEN_DIR / filename).read_bytes())
            assert stored == np.ascontiguousarray(pixels).tobytes(), (
                f"{filename} is stale: rerun `python tests/alignment_golden.py`")


def test_golden_files_stay_small():
    total = sum(path.stat().st_size for path in alignment_golden.GOLDEN_DIR.iterdir())
    assert total < 400_000, f"{total:,} bytes of golden files: keep the Java test resources small"
