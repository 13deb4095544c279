"""Large photos: wall time and peak memory of `mobiface verify` on a 12 MP and an 8000x8000 photo.

Prints a Markdown table; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_large_photos.py [--sizes 4000x3000,8000x8000]
        [--model PATH] [--repeats 1]

Each photo is a real face (a CelebA-subset photo, or LFW's when CelebA is absent) enlarged with
bicubic resampling to the size asked and saved as a quality-90 JPEG, so the face fills the frame
as in a selfie. Each run is a fresh `mobiface verify PHOTO PHOTO --json` process, as a user runs
it: the wall time includes Python and TensorFlow start-up; the peak resident memory is the
process's own (`wait4` rusage), TensorFlow's ~0.7 GB included. The per-stage milliseconds come
from the command's own timing (both photos together).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

_ENTRY = "from mobiface_tf.cli.mobiface import run; run()"


def _source_photo():
    from mobiface_tf import paths

    celeba = paths.data_root() / "celeba_subset" / "images"
    if celeba.is_dir():
        return sorted(next(p for p in sorted(celeba.iterdir()) if p.is_dir()).glob("*.jpg"))[0]
    return paths.data_root() / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg"


def _make_photo(source, size, folder):
    from PIL import Image

    width, height = size
    target = Path(folder) / f"photo_{width}x{height}.jpg"
    with Image.open(source) as image:
        image = image.convert("RGB")
        # Fill the frame (crop to the aspect ratio, then enlarge): a face as large as in a selfie.
        scale = max(width / image.width, height / image.height)
        big = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        left, top = (big.width - width) // 2, (big.height - height) // 2
        big.crop((left, top, left + width, top + height)).save(target, quality=90)
    return target


def _run(photo, model):
    args = [sys.executable, "-c", _ENTRY, "verify", str(photo), str(photo), "--json", "--threshold", "0.5"]
    if model:
        args += ["--model", model]
    start = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    stdout, stderr = process.stdout.read(), process.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"exit": code, "error": stderr.strip()[-300:], "seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024}
    record = json.loads(stdout)
    return {"exit": 0, "seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "timing_ms": record["timing_ms"],
            "similarity": record["similarity"], "box": record["faces_a"][0]["box"]}


def _in_process(photo, warm_up, model):
    from mobiface_tf.inference import FaceEmbedder

    embedder = FaceEmbedder(model=model, face_policy="largest", num_threads=1)
    embedder.embed(warm_up)  # graph tracing and detector start-up are not the photo's cost
    cpu, wall = time.process_time(), time.perf_counter()
    embedder.embed(photo)
    return time.process_time() - cpu, time.perf_counter() - wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000x3000,8000x8000")
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in text.split("x")) for text in args.sizes.split(",")]
    source = _source_photo()
    print(f"source photo: {source}")
    print("| photo | MP | exit | verify wall s | verify peak RSS MB | verify load / detect / align / embed ms "
          "(2 photos) | one photo, 1 thread: CPU s / wall s |")
    print("|---|---:|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            photo = _make_photo(source, size, folder)
            for _ in range(args.repeats):
                result = _run(photo, args.model)
                stages = (" / ".join(f"{result['timing_ms'][k]:.0f}" for k in ("load", "detect", "align", "embed"))
                          if result["exit"] == 0 else result["error"])
                cpu, wall = _in_process(photo, source, args.model)
                print(f"| {size[0]}x{size[1]} | {size[0] * size[1] / 1e6:.1f} | {result['exit']} | "
                      f"{result['seconds']:.1f} | {result['peak_rss_mb']:.0f} | {stages} | {cpu:.2f} / {wall:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
