"""Golden alignment cases for the Android core's Java alignment, written by `data/align.py` from LFW.

    .venv/bin/python tests/alignment_golden.py [--lfw_dir ../shared/data/lfw]

writes into `android_demo/core/src/test/resources/alignment/`: `cases.json` (per case: source
size, the five landmarks, the (2, 3) alignment matrix `alignment_matrix` computes, file names)
and, per case, `<name>.rgb.gz` (the source image) and `<name>.aligned.rgb.gz` (the 112x112 crop
`align_face` makes), both raw interleaved RGB bytes, row by row, gzip-compressed. The Java test
(`FaceAlignmentTest`) reads them; `tests/test_alignment_golden.py` checks that they are still
what `align.py` writes. Landmarks come from LFW's `landmarks_5pt.txt`.
"""

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "android_demo" / "core" / "src" / "test" / "resources" / "alignment"

# name -> (LFW image, source region (left, top, right, bottom) or None for the whole photo,
# side the source is resized to or None). Together: a frontal face, the most tilted eye line in
# LFW, a face cut by the image edge (the warp reads outside: black, and edge rows are clamped),
# and a small photo (the warp enlarges ~4x).
CASES = {
    "frontal": ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", None, None),
    "tilted": ("George_HW_Bush/George_HW_Bush_0002.jpg", None, None),
    "cut_at_edge": ("George_W_Bush/George_W_Bush_0096.jpg", (20, 10, 150, 130), None),
    "small": ("Hans_Corell/Hans_Corell_0001.jpg", None, 60),
}


def golden_cases(lfw_dir):
    """{name: (source RGB uint8 array, landmarks5 (5, 2) float32, matrix (2, 3), aligned crop)}."""
    from mobiface_tf.data.align import align_face, alignment_matrix
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import read_landmarks

    lfw_dir = Path(lfw_dir)
    reference = read_landmarks(lfw_dir / "landmarks_5pt.txt")
    cases = {}
    for name, (relpath, region, side) in CASES.items():
        image = load_rgb(lfw_dir / "images" / relpath)
        landmarks = np.asarray(reference[relpath], np.float64)
        if region is not None:
            image = image[region[1]:region[3], region[0]:region[2]].copy()
            landmarks = landmarks - [region[0], region[1]]
        if side is not None:
            scale = side / image.shape[0]
            image = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC))
            # Pixel centres on integers: x' + 0.5 = (x + 0.5) * scale.
            landmarks = (landmarks + 0.5) * scale - 0.5
        # float32 like every detector's landmarks5, so Java's float[] holds exactly these values.
        landmarks = landmarks.astype(np.float32)
        cases[name] = (image, landmarks, alignment_matrix(landmarks), align_face(image, landmarks))
    return cases


def manifest(cases):
    """The cases.json content for `cases`."""
    return {
        "format": "mobiface-alignment-golden/1",
        "writer": "tests/alignment_golden.py (mobiface_tf/data/align.py, Pillow bilinear)",
        "pixels": "raw interleaved RGB bytes, row-major, gzip",
        "cases": [
            {
                "name": name,
                "lfw_image": CASES[name][0],
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "landmarks5": [[float(x), float(y)] for x, y in landmarks],
                "matrix": [float(v) for v in np.asarray(matrix).ravel()],
                "size": int(aligned.shape[0]),
                "source": f"{name}.rgb.gz",
                "aligned": f"{name}.aligned.rgb.gz",
            }
            for name, (image, landmarks, matrix, aligned) in cases.items()
        ],
    }


def pack(pixels):
    """Raw RGB bytes, gzip-compressed without a timestamp (the same bytes on every run)."""
    return gzip.compress(np.ascontiguousarray(pixels, np.uint8).tobytes(), compresslevel=9, mtime=0)


def write(cases, out_dir=GOLDEN_DIR):
    """Write cases.json and the .rgb.gz files into `out_dir`; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "cases.json"]
    content = manifest(cases)
    # One line per case: readable in a diff, and the Java test's JSON reader takes it as is.
    lines = [f" {json.dumps(key)}: {json.dumps(value)}," for key, value in content.items() if key != "cases"]
    lines += [' "cases": [', ",\n".join(f"  {json.dumps(case)}" for case in content["cases"]), " ]"]
    written[0].write_text("{\n" + "\n".join(lines) + "\n}\n")
    for name, (image, _, _, aligned) in cases.items():
        for filename, pixels in ((f"{name}.rgb.gz", image), (f"{name}.aligned.rgb.gz", aligned)):
            (out_dir / filename).write_bytes(pack(pixels))
            written.append(out_dir / filename)
    return written


def main():
    from mobiface_tf import paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw_dir", default=None, help="LFW folder (default: <data>/lfw)")
    parser.add_argument("--out_dir", default=str(GOLDEN_DIR))
    args = parser.parse_args()
    lfw_dir = Path(args.lfw_dir) if args.lfw_dir else paths.data_root() / "lfw"
    for path in write(golden_cases(lfw_dir), args.out_dir):
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
