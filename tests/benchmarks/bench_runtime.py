"""Today's path (mtcnn on TensorFlow) against the LiteRT runtime, side by side: the runtime's aims.

Prints figures; not a pytest test. Run from the project root (`make bench-runtime`):

    .venv/bin/python tests/benchmarks/bench_runtime.py [--repeats 5] [--photos 200] [--pairs_folds 10]

Both paths use the bundled int8 `mobiface.tflite`; they differ only in the detector, which is
what today's path spent its time on: `--detector mtcnn` (the mtcnn package, TensorFlow imported)
against the default `--detector litert` (`LiteFaceDetector`, no TensorFlow imported).

1. Cold `mobiface verify` of two LFW photos: wall time of the whole command in a fresh
   subprocess (interpreter start, imports, model and detector load, both photos), `--repeats`
   times each, alternating the paths; median and range. Target <= 1.0 s.
2. `mobiface enroll` of a folder-per-identity tree of `--photos` LFW photos (symbolic links in a
   temporary folder: the data is never copied) and `mobiface identify` of `--photos` other LFW
   photos as one batch; photos per second of the whole command, start-up included. Target >= 30.
3. LFW pairs through raw photos: every image the pairs of `--pairs_folds` use is detected (face
   nearest the centre, as LFW crops are centred; the centre crop where none is found, as
   `mobiface-eval --align mtcnn` does), aligned and embedded (no flip), in this process; accuracy
   cross-validated over the ten folds, or over ten interleaved sub-folds of a single fold.
   `--pairs_folds 10` (the default: 600 pairs of the fold no training identity belongs to) keeps
   the run to minutes; `--pairs_folds all` uses the 6,000 pairs. Target: within 0.1 point.

The machine is shared (2 cores): the load average is printed with the figures.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PATHS = (("TF + mtcnn (today)", "mtcnn"), ("LiteRT runtime", "litert"))
_ENTRY = "from mobiface_tf.cli.mobiface import run; run()"


def _mobiface(*args):
    """(seconds of wall time, CompletedProcess) of `mobiface ARGS` in a fresh interpreter."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _ENTRY, *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"mobiface {' '.join(map(str, args))} failed ({result.returncode}): {result.stderr.strip()}")
    return seconds, result


def cold_verify(lfw_dir, repeats):
    """{detector: [seconds, ...]} of `mobiface verify` on two photos of one person."""
    images = lfw_dir / "images"
    a, b = images / "George_W_Bush" / "George_W_Bush_0001.jpg", images / "George_W_Bush" / "George_W_Bush_0002.jpg"
    times = {detector: [] for _, detector in PATHS}
    for _ in range(repeats):
        for _, detector in PATHS:
            seconds, result = _mobiface("verify", a, b, "--detector", detector)
            assert result.stdout.startswith("same person"), result.stdout
            times[detector].append(seconds)
    return times


def _people(lfw_dir, count):
    """(enroll: {person: [photos]}, probes: [photos]) with `count` photos each, from people with 3+ photos."""
    enroll, probes = {}, []
    people = sorted(p for p in (lfw_dir / "images").iterdir() if p.is_dir())
    for person in people:
        photos = sorted(person.glob("*.jpg"))
        if len(photos) < 3:
            continue
        take = min(len(photos) - 1, 4, count - sum(map(len, enroll.values())))
        if take > 0:
            enroll[person.name] = photos[:take]
        if len(probes) < count:
            probes.append(photos[-1])
        if sum(map(len, enroll.values())) >= count and len(probes) >= count:
            break
    return enroll, probes


def enroll_identify(lfw_dir, count, work):
    """{detector: {"enroll": photos/s, "identify": photos/s}} of the two commands, start-up included."""
    enroll, probes = _people(lfw_dir, count)
    tree, probe_dir = work / "people", work / "probes"
    for person, photos in enroll.items():
        (tree / person).mkdir(parents=True)
        for photo in photos:
            (tree / person / photo.name).symlink_to(photo)
    probe_dir.mkdir()
    for photo in probes:
        (probe_dir / photo.name).symlink_to(photo)
    enrolled = sum(map(len, enroll.values()))
    rates = {}
    for _, detector in PATHS:
        gallery = work / f"gallery_{detector}.npz"
        enroll_s, _ = _mobiface("enroll", tree, "--gallery", gallery, "--detector", detector)
        identify_s, result = _mobiface("identify", probe_dir, "--gallery", gallery, "--detector", detector, "--json")
        rows = result.stdout.splitlines()
        rates[detector] = {"enroll": enrolled / enroll_s, "identify": len(probes) / identify_s,
                           "enroll_s": enroll_s, "identify_s": identify_s, "results": len(rows)}
    return enrolled, len(probes), rates


def lfw_pairs(lfw_dir, folds):
    """{detector: (accuracy, std, failures, seconds)} of detect + align + embed on the pairs' raw photos."""
    from face_bench import fold_pairs

    from mobiface_tf.embedding import load_embedding_model
    from mobiface_tf.eval.lfw import align_images, pair_index
    from mobiface_tf.eval.verification import pair_verification
    from mobiface_tf.inference import BUNDLED_MODEL, make_detector

    pairs = fold_pairs(lfw_dir, folds)
    index = pair_index(pairs)
    model = load_embedding_model(BUNDLED_MODEL)
    results = {}
    for _, detector in PATHS:
        start = time.perf_counter()
        faces, failures = align_images(lfw_dir / "images", index.relpaths, "mtcnn", detector=make_detector(detector))
        seconds = time.perf_counter() - start
        metrics = pair_verification(model.embed, faces, index.index_a, index.index_b, index.issame, index.folds,
                                    flip="off")["no_flip"]
        results[detector] = (metrics["accuracy_mean"], metrics["accuracy_std"], len(failures), seconds)
        print(f"  pairs: {detector} done in {seconds:.0f} s", file=sys.stderr, flush=True)
    return len(pairs), len(index.relpaths), results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw_dir", type=Path, default=None, help="default: $MOBIFACE_DATA/lfw")
    parser.add_argument("--repeats", type=int, default=5, help="cold verify runs per path")
    parser.add_argument("--photos", type=int, default=200, help="photos enrolled, and photos identified")
    parser.add_argument("--pairs_folds", default="10", help="1-based LFW View 2 folds, comma-separated, or all")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: verify,throughput,pairs")
    args = parser.parse_args()
    from mobiface_tf.paths import data_root

    lfw_dir = args.lfw_dir or data_root() / "lfw"
    if not (lfw_dir / "images").is_dir():
        raise SystemExit(f"no LFW images under {lfw_dir} (set MOBIFACE_DATA or --lfw_dir)")
    skip = set(filter(None, args.skip.split(",")))
    print(f"bench-runtime: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"bundled int8 model; paths: " + ", ".join(f"{name} = --detector {d}" for name, d in PATHS))
    if "verify" not in skip:
        times = cold_verify(lfw_dir, args.repeats)
        print(f"\ncold `mobiface verify` of two LFW photos, wall s over {args.repeats} runs (target <= 1.0):")
        for name, detector in PATHS:
            t = times[detector]
            print(f"  {name:<20} median {statistics.median(t):.2f}  min {min(t):.2f}  max {max(t):.2f}")
    if "throughput" not in skip:
        with tempfile.TemporaryDirectory() as work:
            enrolled, probes, rates = enroll_identify(lfw_dir, args.photos, Path(work))
        print(f"\nphotos/s of whole commands, start-up included (target >= 30): enroll {enrolled} LFW photos, "
              f"identify {probes} others as one batch")
        for name, detector in PATHS:
            r = rates[detector]
            print(f"  {name:<20} enroll {r['enroll']:5.1f}/s ({r['enroll_s']:.1f} s)  "
                  f"identify {r['identify']:5.1f}/s ({r['identify_s']:.1f} s, {r['results']} faces)")
    if "pairs" not in skip:
        count, images, results = lfw_pairs(lfw_dir, args.pairs_folds)
        print(f"\nLFW pairs through raw photos (detect, align, embed; no flip): folds {args.pairs_folds}, "
              f"{count} pairs, {images} images (target: within 0.1 point)")
        for name, detector in PATHS:
            accuracy, std, failures, seconds = results[detector]
            print(f"  {name:<20} accuracy {100 * accuracy:.2f} +- {100 * std:.2f}%  no face {failures}  "
                  f"{seconds:.0f} s ({1000 * seconds / images:.1f} ms per photo)")
        delta = 100 * (results["litert"][0] - results["mtcnn"][0])
        print(f"  difference (LiteRT - today): {delta:+.2f} points")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
