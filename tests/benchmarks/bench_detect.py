"""LiteRT MTCNN (`data/detect_lite.py`) against the mtcnn package (`data/detect.py`): same faces? how fast?

Prints figures; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_detect.py [--lfw_sample 2000] [--vga_sample 50]

Both detectors run in this one process on the same decoded photos, one after the other for each
photo (so a busy machine slows both alike), each on one thread: TensorFlow limited to one intra-
and one inter-op thread, LiteRT with `num_threads=1`. Per photo it reports the wall time (median
and mean) and the process CPU time. Faces are matched by box IoU > 0.5; landmark errors are the
distances between matched faces' points, in pixels. `--lfw_sample 0` uses all 13,232 LFW images.

The 640x480 photos are CelebA-subset photos (at most 300 px on their longer side) enlarged with
bicubic resampling and centre-cropped to 640x480: the detectors' cost depends on the image size
and on how many candidate boxes it holds, not on sharpness alone, but say so when quoting them.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

MATCH_IOU = 0.5
FILE_TOLERANCE_PX = 5.0  # bench_align's agreement criterion with landmarks_5pt.txt


def match_faces(reference, candidate):
    """Greedy IoU matching: (matched pairs, reference faces unmatched, candidate faces unmatched)."""
    from mobiface_tf.data.faces import box_iou

    pairs, free = [], list(candidate)
    for face in reference:
        scores = [box_iou(face.box, other.box) for other in free]
        if scores and max(scores) > MATCH_IOU:
            pairs.append((face, free.pop(int(np.argmax(scores)))))
    return pairs, len(reference) - len(pairs), len(free)


def _timed(detector, image):
    wall, cpu = time.perf_counter(), time.process_time()
    faces = detector.detect(image)
    return faces, time.perf_counter() - wall, time.process_time() - cpu


def _enlarged(path, size=(640, 480)):
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = max(size[0] / image.width, size[1] / image.height)
        image = image.resize((round(image.width * scale) + 1, round(image.height * scale) + 1),
                             Image.Resampling.BICUBIC)
        left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
        return np.asarray(image.crop((left, top, left + size[0], top + size[1])))


class Tally:
    """Faces and times of both detectors over one photo set."""

    def __init__(self):
        self.both = self.only_mtcnn = self.only_lite = self.same_count = self.photos = 0
        self.errors = []
        self.times = {"mtcnn": ([], []), "lite": ([], [])}

    def add(self, mtcnn_result, lite_result):
        (mtcnn_faces, *mtcnn_time), (lite_faces, *lite_time) = mtcnn_result, lite_result
        pairs, only_mtcnn, only_lite = match_faces(mtcnn_faces, lite_faces)
        self.photos += 1
        self.both += len(pairs)
        self.only_mtcnn += only_mtcnn
        self.only_lite += only_lite
        self.same_count += len(mtcnn_faces) == len(lite_faces)
        for want, got in pairs:
            self.errors.extend(np.linalg.norm(got.landmarks5 - want.landmarks5, axis=1))
        for name, (wall, cpu) in (("mtcnn", mtcnn_time), ("lite", lite_time)):
            self.times[name][0].append(wall)
            self.times[name][1].append(cpu)

    def report(self, label):
        errors = np.asarray(self.errors) if self.errors else np.zeros(1)
        print(f"{label}: {self.photos} photos; faces found by both {self.both}, only by mtcnn {self.only_mtcnn}, "
              f"only by LiteRT {self.only_lite}; same face count on {self.same_count} photos")
        print(f"  landmark distance between matched faces (px): median {np.median(errors):.4f}, "
              f"95th percentile {np.percentile(errors, 95):.4f}, max {errors.max():.4f} ({len(self.errors)} points)")
        for name, title in (("mtcnn", "mtcnn package (TensorFlow, eager)"), ("lite", "LiteFaceDetector (LiteRT)")):
            wall, cpu = (np.asarray(values) * 1e3 for values in self.times[name])
            print(f"  {title}: wall median {np.median(wall):.1f} ms, mean {wall.mean():.1f} ms per photo; "
                  f"CPU mean {cpu.mean():.1f} ms per photo")
        speedup = np.median(self.times["mtcnn"][0]) / np.median(self.times["lite"][0])
        print(f"  LiteRT is {speedup:.1f}x faster (median wall)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder holding lfw/ and celeba_subset/ (default: MOBIFACE_DATA or ../shared/data)")
    parser.add_argument("--lfw_sample", type=int, default=2000, help="LFW images (0: all 13,232)")
    parser.add_argument("--vga_sample", type=int, default=50, help="CelebA photos enlarged to 640x480")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from face_bench import data_folders, file_landmarks, seeded_sample, single_thread_tensorflow

    single_thread_tensorflow()

    from mobiface_tf.cli.common import Progress
    from mobiface_tf.data.detect import FaceDetector
    from mobiface_tf.data.detect_lite import LiteFaceDetector
    from mobiface_tf.data.faces import select_faces
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import list_identity_tree

    lfw_dir, celeba_dir = data_folders(args.data)
    print(f"host: {os.cpu_count()} CPU cores visible, load average {os.getloadavg()[0]:.1f} at start (shared machine)")

    mtcnn, lite = FaceDetector(), LiteFaceDetector(num_threads=1)
    warm_up = load_rgb(next(iter(sorted((lfw_dir / "images").glob("*/*.jpg")))))
    started = time.perf_counter()
    lite.detect(warm_up)
    print(f"LiteFaceDetector first photo (interpreters created): {(time.perf_counter() - started) * 1e3:.0f} ms")
    started = time.perf_counter()
    mtcnn.detect(warm_up)
    print(f"mtcnn first photo (networks built, weights loaded, TensorFlow warmed up): {(time.perf_counter() - started) * 1e3:.0f} ms")

    reference = file_landmarks(lfw_dir)
    sample = seeded_sample(reference, args.lfw_sample, args.seed)
    tally, agree = Tally(), {"mtcnn": 0, "lite": 0}
    progress = Progress("LFW photos")
    for done, relpath in enumerate(sample, 1):
        progress(done, len(sample))
        image = load_rgb(lfw_dir / "images" / relpath)
        results = {"mtcnn": _timed(mtcnn, image), "lite": _timed(lite, image)}
        tally.add(results["mtcnn"], results["lite"])
        for name, (faces, _, _) in results.items():
            if faces:
                (face,) = select_faces(faces, "central", image.shape)
                agree[name] += np.linalg.norm(face.landmarks5 - reference[relpath], axis=1).max() <= FILE_TOLERANCE_PX
    progress.close()
    scope = "all" if len(sample) == len(reference) else f"seeded sample (seed {args.seed}) of"
    tally.report(f"LFW 150x150, {scope} {len(reference)} images")
    print(f"  central face within {FILE_TOLERANCE_PX:g} px of landmarks_5pt.txt (all five points): "
          f"mtcnn {agree['mtcnn'] / len(sample) * 100:.1f}%, LiteRT {agree['lite'] / len(sample) * 100:.1f}%")

    celeba_paths, _, _ = list_identity_tree(celeba_dir / "images")
    tally = Tally()
    for path in seeded_sample(celeba_paths, args.vga_sample, args.seed):
        image = _enlarged(path)
        tally.add(_timed(mtcnn, image), _timed(lite, image))
    tally.report("640x480 (CelebA photos enlarged)")

    # The P-Net design choice: one interpreter kept per pyramid-level size (the default) against
    # one re-planned for every level (budget 0 keeps a single interpreter); 3 interleaved rounds.
    vga = [_enlarged(path) for path in seeded_sample(celeba_paths, min(args.vga_sample, 20), args.seed)]
    lfw = [load_rgb(lfw_dir / "images" / relpath) for relpath in sample[:100]]
    variants = {"kept per size": None, "re-planned per level": 0}
    for label, images in (("LFW", lfw), ("640x480", vga)):
        detectors, cpu = {}, {name: [] for name in variants}
        for name, budget in variants.items():
            detectors[name] = LiteFaceDetector(num_threads=1)
            detectors[name].detect(images[0])
            if budget is not None:
                detectors[name]._networks["pnet"].budget = budget
        for _ in range(3):
            for name, detector in detectors.items():
                started = time.process_time()
                for image in images:
                    detector.detect(image)
                cpu[name].append((time.process_time() - started) / len(images) * 1e3)
        print(f"P-Net interpreters, {label} ({len(images)} photos, 3 rounds): " +
              ", ".join(f"{name} {np.median(values):.1f} ms CPU per photo" for name, values in cpu.items()))
    print(f"host: load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
