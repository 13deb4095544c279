"""Alignment benchmark: throughput (MTCNN on CelebA, landmark file on LFW) and MTCNN-vs-file agreement on LFW.

Prints figures; not a pytest test. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_align.py [--lfw_sample 500] [--celeba_sample 100]

Every figure is for one process with one TensorFlow thread (the align tool runs one such
process per core). `--lfw_sample 0` measures agreement on all 13,232 LFW images.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

# Agreement criterion of issue 3: every one of the five points within this many pixels, in the
# 150x150 coordinates of the shared LFW copy.
TOLERANCE_PX = 5.0


def lfw_agreement(detector, lfw_dir, relpaths, reference):
    """Per-image max point distance (px) between MTCNN (central face) and the file; inf if no face."""
    from mobiface_tf.data.detect import select_faces
    from mobiface_tf.data.images import load_rgb

    errors = []
    for relpath in relpaths:
        image = load_rgb(lfw_dir / "images" / relpath)
        faces = detector.detect(image)
        if not faces:
            errors.append(np.inf)
            continue
        (face,) = select_faces(faces, "central", image.shape)
        errors.append(float(np.linalg.norm(face.landmarks5 - reference[relpath], axis=1).max()))
    return np.array(errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder holding lfw/ and celeba_subset/ (default: MOBIFACE_DATA or ../shared/data)")
    parser.add_argument("--lfw_sample", type=int, default=500, help="LFW images for the agreement figure (0: all)")
    parser.add_argument("--celeba_sample", type=int, default=100, help="CelebA photos for MTCNN throughput")
    parser.add_argument("--landmark_sample", type=int, default=2000, help="LFW images for landmark-file throughput (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from face_bench import data_folders, file_landmarks, seeded_sample, single_thread_tensorflow

    single_thread_tensorflow()

    from mobiface_tf.data.align import align_face
    from mobiface_tf.data.detect import FaceDetector, select_faces
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import list_identity_tree
    from mobiface_tf.errors import NoFaceError

    lfw_dir, celeba_dir = data_folders(args.data)
    print(f"host: {os.cpu_count()} CPU cores visible, load average {os.getloadavg()[0]:.1f} (shared machine)")
    print("one process, one TensorFlow thread")

    detector = FaceDetector()
    detector.detect(np.zeros((64, 64, 3), np.uint8))  # build MTCNN outside the timings

    # MTCNN alignment throughput on in-the-wild CelebA photos (read + detect + align, no write).
    celeba_paths, _, _ = list_identity_tree(celeba_dir / "images")
    sample = seeded_sample(celeba_paths, args.celeba_sample, args.seed)
    no_face = 0
    started = time.perf_counter()
    for path in sample:
        image = load_rgb(path)
        try:
            (face,) = select_faces(detector.detect(image), "largest", image.shape)
        except NoFaceError:
            no_face += 1
            continue
        align_face(image, face.landmarks5)
    seconds = time.perf_counter() - started
    print(
        f"MTCNN alignment, CelebA subset: {len(sample)} photos in {seconds:.1f} s = "
        f"{len(sample) / seconds:.2f} images/s ({no_face} without a face)"
    )

    # Landmark-file alignment throughput on LFW (read + align, no write).
    reference = file_landmarks(lfw_dir)
    sample = seeded_sample(reference, args.landmark_sample, args.seed)
    started = time.perf_counter()
    for relpath in sample:
        align_face(load_rgb(lfw_dir / "images" / relpath), reference[relpath])
    seconds = time.perf_counter() - started
    print(f"landmark-file alignment, LFW: {len(sample)} images in {seconds:.1f} s = {len(sample) / seconds:.1f} images/s")

    # MTCNN vs landmarks_5pt.txt on LFW.
    sample = seeded_sample(reference, args.lfw_sample, args.seed)
    started = time.perf_counter()
    errors = lfw_agreement(detector, lfw_dir, sample, reference)
    seconds = time.perf_counter() - started
    agree = errors <= TOLERANCE_PX
    detected = np.isfinite(errors)
    scope = "all" if len(sample) == len(reference) else f"seeded random sample (seed {args.seed}): {len(sample)} of"
    print(
        f"MTCNN vs landmarks_5pt.txt, LFW ({scope} {len(reference)} images, central face): "
        f"{agree.mean() * 100:.1f}% with all 5 points within {TOLERANCE_PX:g} px; "
        f"{(~detected).sum()} without a face; max-point error median {np.median(errors[detected]):.2f} px, "
        f"95th percentile {np.percentile(errors[detected], 95):.2f} px; "
        f"{len(sample) / seconds:.1f} images/s"
    )
    worst = np.argsort(-np.where(detected, errors, 1e9))[:5]
    print("worst: " + ", ".join(f"{sample[i]} ({errors[i]:.1f} px)" for i in worst))


if __name__ == "__main__":
    main()
