"""`mobiface-align`: a raw folder-per-identity photo tree in, a tree of 112x112 aligned faces out.

Faces are found with MTCNN (one face per photo, chosen by `--face_policy`), or taken from a
landmark file (`--landmarks`, e.g. LFW's `landmarks_5pt.txt`) without any detection. Each
output keeps its input's relative path with a `.jpg` ending (JPEG quality 95). Outputs that
already exist are skipped, so an interrupted run resumes where it stopped. Every file that could
not be used is listed with the reason in `<output_dir>/align_report.csv`; one bad file never
stops the run. `<output_dir>/align_state.json` says whether the tree is finished
(`mobiface_tf.data.aligned_tree`): false from the start, true once every photo has been tried,
so the trainer never takes an interrupted tree for a complete one. Work is spread over
`--workers` processes, each with one TensorFlow thread and its own detector.

Exit status: 0 when the output tree holds at least one aligned face (or there was nothing to
do), 1 when every photo failed and the tree is empty, and the `MobiFaceError` codes for unusable
arguments.
"""

import csv
import multiprocessing
import os
import sys
import time
from pathlib import Path

from absl import flags

from mobiface_tf.cli.common import Progress, run_main
from mobiface_tf.quiet import import_tensorflow

FLAGS = flags.FLAGS
flags.DEFINE_string("input_dir", None, "Raw photos, one folder per identity: <input_dir>/<identity>/<photo>.")
flags.DEFINE_string("output_dir", None, "Where the aligned tree goes: <output_dir>/<identity>/<photo>.jpg.")
flags.DEFINE_string(
    "landmarks",
    None,
    "Optional five-point landmark file (relpath then 10 numbers per line, relpaths relative to "
    "--input_dir, coordinates in the upright image): align from it instead of detecting.",
)
flags.DEFINE_enum(
    "face_policy",
    "largest",
    ["largest", "central", "all", "single"],
    "Which detected face to keep: largest box, most central box, all (written as <stem>_<k>.jpg, "
    "largest first), or single (photos with several faces are reported and skipped).",
)
flags.DEFINE_integer("workers", None, "Worker processes (default: the CPU cores this process may use).")
flags.DEFINE_string("include", None, "Optional file listing the identities (folder names) to align, one per line.")
flags.DEFINE_integer("min_face_size", 20, "Smallest face side, in pixels, that MTCNN looks for.")
flags.DEFINE_integer("size", 112, "Side of the square aligned crop.")

REPORT_NAME = "align_report.csv"
JPEG_QUALITY = 95

# Per-process state of a worker: the detector (built once per process) and the job settings.
_WORKER = {}


def main(argv):
    """Plan the jobs, run them over the worker pool, write the report and print the summary."""
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.storage import check_output_folder

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}; use --input_dir=... --output_dir=...")
    if FLAGS.input_dir is None or FLAGS.output_dir is None:
        raise BadInputError("--input_dir and --output_dir are required")
    input_dir, output_dir = Path(FLAGS.input_dir), check_output_folder(FLAGS.output_dir, "--output_dir")
    if input_dir.is_dir() and output_dir.resolve() == input_dir.resolve():
        raise BadInputError("--output_dir must differ from --input_dir (outputs would overwrite photos)")
    workers = FLAGS.workers or _available_cores()
    if workers < 1:
        raise BadInputError(f"--workers must be >= 1, got {FLAGS.workers}")

    from mobiface_tf.cli.common import require_train_extra
    from mobiface_tf.data import aligned_tree

    if FLAGS.landmarks is None:
        # Detection runs in worker processes: say here, once, when its libraries are missing.
        require_train_extra("tensorflow", "mtcnn")
    jobs, failures, skipped = plan_jobs(
        input_dir,
        output_dir,
        landmarks_file=FLAGS.landmarks,
        include_file=FLAGS.include,
        policy=FLAGS.face_policy,
    )
    settings = {
        "use_detector": FLAGS.landmarks is None,
        "policy": FLAGS.face_policy,
        "min_face_size": FLAGS.min_face_size,
        "size": FLAGS.size,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    state = {"input_dir": input_dir, "landmarks": FLAGS.landmarks, "photos": len(aligned_tree.source_photos(input_dir))}
    aligned_tree.write_state(output_dir, finished=False, **state)
    report_path = output_dir / REPORT_NAME
    mode = f"landmarks from {FLAGS.landmarks}" if FLAGS.landmarks else f"MTCNN, policy {FLAGS.face_policy}"
    print(
        f"mobiface-align: {len(jobs)} to align, {skipped} already done, {len(failures)} unusable; "
        f"{mode}; {min(workers, max(len(jobs), 1))} worker(s)",
        file=sys.stderr,
    )
    started = time.monotonic()
    aligned = 0
    with open(report_path, "w", newline="") as report_file:
        report = csv.writer(report_file, lineterminator="\n")
        report.writerow(["path", "reason", "detail"])
        for row in failures:
            report.writerow(row)
        progress = Progress("images")
        for done, (relpath, reason, detail) in enumerate(_run_jobs(jobs, settings, workers), 1):
            if reason is None:
                aligned += 1
            else:
                failures.append((relpath, reason, detail))
                report.writerow([relpath, reason, detail])
                report_file.flush()
            progress(done, len(jobs), f"{aligned} aligned, {len(failures)} failed")
        progress.close()
    aligned_tree.write_state(output_dir, finished=True, aligned=aligned + skipped, failed=len(failures), **state)
    seconds = time.monotonic() - started
    processed = len(jobs)
    print(
        f"aligned {aligned}, skipped-existing {skipped}, failed {len(failures)} "
        f"in {seconds:.1f} s ({processed / max(seconds, 1e-9):.1f} images/s); "
        f"failures listed in {report_path}"
    )
    # Failing is about the tree, not this run: a rerun that retries only the photos without a
    # face (all failing again) over an otherwise finished tree succeeded.
    if aligned + skipped == 0 and failures:
        return 1
    return 0


def plan_jobs(input_dir, output_dir, landmarks_file=None, include_file=None, policy="largest"):
    """Walk the input tree and decide what to do with each photo.

    Returns:
        (jobs, failures, skipped): `jobs` a list of `(source, relpath, output, landmarks5 or
        None)`; `failures` `(relpath, reason, detail)` rows for photos that cannot be tried
        (files that are not images, no landmarks in the file, two photos mapping to one output
        name); `skipped` the count of photos whose output already exists.
    """
    import numpy as np

    from mobiface_tf.data.sources import read_landmarks, scan_identity_tree
    from mobiface_tf.errors import DataNotFoundError

    input_dir, output_dir = Path(input_dir), Path(output_dir)
    tree = scan_identity_tree(input_dir)
    relpaths = [Path(path).relative_to(input_dir).as_posix() for path in tree.paths]
    not_images = [(Path(path).relative_to(input_dir).as_posix(), reason) for path, reason in tree.skipped]
    if include_file is not None:
        wanted = _read_include(include_file)
        relpaths = [relpath for relpath in relpaths if relpath.split("/", 1)[0] in wanted]
        if not relpaths:
            raise DataNotFoundError(f"none of the {len(wanted)} identities listed in {include_file} is in", path=input_dir)
        not_images = [(relpath, reason) for relpath, reason in not_images if relpath.split("/", 1)[0] in wanted]
    landmarks = read_landmarks(landmarks_file) if landmarks_file is not None else None

    jobs, skipped, claimed = [], 0, {}
    failures = [(relpath, "not_an_image", reason) for relpath, reason in not_images]
    for relpath in relpaths:
        output = output_dir / output_relpath(relpath, policy)
        if output in claimed:
            failures.append((relpath, "name_collision", f"same output {output.name} as {claimed[output]}"))
            continue
        claimed[output] = relpath
        if output.exists():
            skipped += 1
            continue
        points = None
        if landmarks is not None:
            points = landmarks.get(relpath)
            if points is None:
                failures.append((relpath, "no_landmarks", f"not listed in {landmarks_file}"))
                continue
            points = np.asarray(points)
        jobs.append((str(input_dir / relpath), relpath, str(output), points))
    return jobs, failures, skipped


def output_relpath(relpath, policy):
    """The aligned crop's path for an input photo: same folders, `.jpg`; `_0` added for policy "all"."""
    path = Path(relpath)
    return path.with_name(f"{path.stem}_0.jpg" if policy == "all" else f"{path.stem}.jpg")


def _read_include(path):
    from mobiface_tf.errors import DataNotFoundError

    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise DataNotFoundError(f"cannot read the identity list ({error.strerror})", path=path) from None
    return {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _run_jobs(jobs, settings, workers):
    """Yield `(relpath, reason or None, detail)` per job, in completion order."""
    if not jobs:
        return
    workers = min(workers, len(jobs))
    if workers == 1:
        _init_worker(settings)
        yield from map(_align_one, jobs)
        return
    # spawn: each worker starts clean (TensorFlow does not survive fork) and builds its own detector.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        yield from pool.imap_unordered(_align_one, jobs, chunksize=4)


def _init_worker(settings):
    _WORKER.clear()
    _WORKER.update(settings)
    if settings["use_detector"]:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        tf = import_tensorflow()  # quietly: each spawned worker would print TF's start-up lines

        from mobiface_tf.data.detect import FaceDetector

        # Several processes with one thread each beat one process with several here.
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already initialised in this process (workers=1): keep its threads.
        _WORKER["detector"] = FaceDetector(min_face_size=settings["min_face_size"])


def _align_one(job):
    """Align one photo and write its crop(s); returns `(relpath, reason or None, detail)`."""
    from mobiface_tf.data.align import align_face
    from mobiface_tf.data.detect import select_faces
    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.errors import BadInputError, ImageReadError, MultipleFacesError, NoFaceError

    source, relpath, output, points = job
    try:
        image = load_rgb(source)
        if points is None:
            faces = _WORKER["detector"].detect(image)
            chosen = select_faces(faces, _WORKER["policy"], image.shape, path=relpath)
            landmark_sets = [face.landmarks5 for face in chosen]
        else:
            landmark_sets = [points]
        crops = [align_face(image, landmarks5, size=_WORKER["size"]) for landmarks5 in landmark_sets]
    except ImageReadError as error:
        return relpath, "unreadable", _reason_text(error, relpath)
    except NoFaceError:
        return relpath, "no_face", "no face found"
    except MultipleFacesError as error:
        return relpath, "multiple_faces", _reason_text(error, relpath)
    except BadInputError as error:
        return relpath, "bad_landmarks", _reason_text(error, relpath)
    except Exception as error:  # noqa: BLE001
        # A detector or decoder bug on one odd photo is reported with its type, not fatal:
        # the rest of a multi-hour batch must still be aligned.
        return relpath, "internal_error", f"{type(error).__name__}: {error}"
    try:
        for index, crop in enumerate(crops):
            target = Path(output)
            if index:  # policy "all": <stem>_0.jpg, <stem>_1.jpg, ...
                target = target.with_name(f"{target.name[: -len('_0.jpg')]}_{index}.jpg")
            _write_jpeg(crop, target)
    except OSError as error:
        return relpath, "write_failed", f"{error.strerror or error} ({output})"
    return relpath, None, ""


def _reason_text(error, relpath):
    text = str(error)
    for prefix in (f"{error.path}: ", f"{relpath}: "):
        if error.path and text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _write_jpeg(crop, target):
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a run killed mid-write never leaves a half file that a rerun skips.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        Image.fromarray(crop).save(partial, format="JPEG", quality=JPEG_QUALITY)
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()


def run():
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    run()
