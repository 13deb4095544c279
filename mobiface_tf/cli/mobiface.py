"""`mobiface`: verify two photos, embed a folder, enroll a gallery, identify a photo.

    mobiface verify A.jpg B.jpg [--json] [--model M] [--face largest|all|error] [--threshold T]
    mobiface embed DIR --out embeddings.npz [--face ...]
    mobiface enroll DIR --gallery gallery.npz [--append | --replace]
    mobiface identify PHOTO|DIR... --gallery gallery.npz [--top_k 5] [--json]

The model is the bundled one unless `--model` names a run folder, a `.keras` or a `.tflite`.
With a `.tflite` model (the bundled one is) and the default `--detector litert`, nothing here
imports TensorFlow: the command needs only ai-edge-litert, NumPy, Pillow and absl.
`verify` exits 0 whether the faces match or not (the answer is printed); errors exit with the
codes of docs/reliability.md's table (2 bad argument, 3 unreadable image, 4 no face, 5 several faces
under `--face error`, 6 unusable model, 9 output not written, 10 a `train`-extra library
missing), each with one line on stderr.
`embed`, `enroll` and `identify` of several photos or a folder skip and report files that fail
and exit 1 only when no file gave a face (`embed` and `enroll` then write nothing);
`identify --json` prints one JSON line per face. `enroll` never shrinks an existing gallery
unless told `--replace`.
"""

import json
import sys
from pathlib import Path

from absl import flags

from mobiface_tf.cli.common import Progress, run_main
from mobiface_tf.quiet import import_tensorflow, native_stderr_silenced

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder, .keras or .tflite; default: the bundled model.")
flags.DEFINE_bool(
    "trust_saved_model",
    False,
    "Also accept a TensorFlow SavedModel folder as --model. Off by default because a SavedModel "
    "is a program: loading and calling it runs whatever TensorFlow ops it holds (reading and "
    "writing files included). Pass it only for a SavedModel you made yourself.",
)
flags.DEFINE_enum(
    "face",
    "largest",
    ["largest", "central", "all", "error"],
    "Which face of a photo counts: the largest, the most central, all of them (verify: the best "
    "matching pair; identify: each face), or error when a photo holds several.",
)
flags.DEFINE_float("threshold", None, "Cosine threshold for a match; default: the model's own (with its FAR).")
flags.DEFINE_bool("json", False, "verify: print the result as JSON; identify: one JSON line per face.")
flags.DEFINE_enum(
    "detector",
    "litert",
    ["litert", "mtcnn"],
    "Face detector: litert (mtcnn's networks on LiteRT, no TensorFlow) or mtcnn (the mtcnn package on TensorFlow).",
)
flags.DEFINE_bool("aligned", False, "Inputs are already aligned 112x112 crops: skip detection.")
flags.DEFINE_integer("num_threads", None, "CPU threads for the model and the detector (default: the libraries').")
flags.DEFINE_string("out", None, "embed: the .npz to write (embeddings, paths, boxes, landmarks).")
flags.DEFINE_string("gallery", None, "enroll / identify: the gallery .npz.")
flags.DEFINE_bool("append", False, "enroll: add to an existing gallery.")
flags.DEFINE_bool("replace", False, "enroll: replace an existing gallery by the people of DIR (its other people are lost).")
flags.DEFINE_integer("top_k", 5, "identify: how many identities to list.")
flags.DEFINE_enum("aggregate", "mean", ["mean", "max"], "identify: score an identity by its mean template or its closest face.")

COMMANDS = ("verify", "embed", "enroll", "identify")
# The library's policy names; "error" reads better on a command line than "single".
_POLICY = {"largest": "largest", "central": "central", "all": "all", "error": "single"}


def main(argv):
    """Dispatch to the subcommand named by the first positional argument."""
    from mobiface_tf.errors import BadInputError

    args = argv[1:]
    if not args or args[0] not in COMMANDS:
        got = repr(args[0]) if args else "nothing"
        raise BadInputError(f"usage: mobiface {{{'|'.join(COMMANDS)}}} ARGS... (got {got}); see mobiface --help")
    command, operands = args[0], args[1:]
    return {"verify": verify, "embed": embed, "enroll": enroll, "identify": identify}[command](operands)


def verify(operands):
    """`mobiface verify A B`: same person or not, similarity, threshold, FAR, face boxes."""
    image_a, image_b = _operands(operands, 2, "verify A.jpg B.jpg")
    _check_readable(image_a, image_b)
    embedder = _embedder()
    result = embedder.verify(image_a, image_b, aligned=FLAGS.aligned)
    source = "--threshold" if FLAGS.threshold is not None else embedder.threshold[2]
    if FLAGS.json:
        record = {"image_a": image_a, "image_b": image_b, "model": embedder.model_identity()["name"]}
        record.update(result.to_dict())
        record["threshold_source"] = source
        print(json.dumps(record, indent=2))
        return 0
    verdict = "same person" if result.verified else "different people"
    relation = ">=" if result.verified else "<"
    print(f"{verdict}: similarity {result.similarity:.4f} {relation} threshold {result.threshold:.4f} ({_far_text(result.far, source)})")
    for label, path, faces, chosen in (("A", image_a, result.faces_a, result.pair[0]), ("B", image_b, result.faces_b, result.pair[1])):
        for k, face in enumerate(faces):
            mark = "*" if len(faces) > 1 and k == chosen else " "
            print(f"  {label}{mark} {path}: {_face_text(face)}")
    timing = ", ".join(f"{stage} {ms:.0f}" for stage, ms in result.timing.items())
    print(f"  time (ms): {timing}")
    return 0


def embed(operands):
    """`mobiface embed DIR --out FILE.npz`: every face of every image under DIR."""
    import numpy as np

    from mobiface_tf.data.sources import list_image_files
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.storage import PRIVATE_MODE, atomic_write, check_output_file

    (folder,) = _operands(operands, 1, "embed DIR --out embeddings.npz")
    if not FLAGS.out:
        raise BadInputError("embed needs --out FILE.npz")
    out = check_output_file(FLAGS.out, "--out file")
    listing = list_image_files(folder)
    paths = listing.paths
    embedder = _embedder()
    progress = Progress("images")
    result, skipped = embedder.embed_files(paths, progress=progress)
    progress.close()
    skipped = [(path, f"{path}: {reason}") for path, reason in listing.skipped] + skipped
    _report_skipped(skipped)
    if not len(result):
        print(f"no face found in any of {len(paths)} images; nothing written to {out}")
        return 1
    faces = result.faces
    identity = embedder.model_identity()
    with atomic_write(out, PRIVATE_MODE) as stream:  # a file object keeps numpy from appending ".npz"
        np.savez(
            stream,
            embeddings=result.embeddings,
            paths=np.array([paths[i] for i in result.image_index], dtype=str).reshape(len(result)),
            boxes=np.array([_or_nan(f, "box", (4,)) for f in faces], np.float32).reshape(-1, 4),
            scores=np.array([f.score if f is not None else np.nan for f in faces], np.float32),
            landmarks5=np.array([_or_nan(f, "landmarks5", (5, 2)) for f in faces], np.float32).reshape(-1, 5, 2),
            skipped=np.array([str(p) for p, _ in skipped], dtype=str).reshape(len(skipped)),
            skipped_reasons=np.array([str(e) for _, e in skipped], dtype=str).reshape(len(skipped)),
            model_name=np.array(identity["name"]),
            model_embedding_size=np.array(identity["embedding_size"], np.int64),
            model_hash=np.array(identity["hash"] or ""),
        )
    files_ok = len(set(result.image_index.tolist()))
    print(f"embedded {len(result)} faces from {files_ok} of {len(paths)} images into {out}; skipped {len(skipped)}")
    return 0


def enroll(operands):
    """`mobiface enroll DIR --gallery FILE.npz`: one identity per sub-folder of DIR.

    The gallery's folder is locked from reading the old gallery to writing the new one, so a
    second enroll into it waits; the file is replaced atomically. An enroll that finds no face
    writes nothing, and an existing gallery is only added to (`--append`) or, when asked,
    replaced (`--replace`).
    """
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.gallery import Gallery
    from mobiface_tf.storage import check_output_file, exclusive

    (folder,) = _operands(operands, 1, "enroll DIR --gallery gallery.npz")
    gallery_path = check_output_file(_gallery_flag(), "--gallery file")
    if FLAGS.append and FLAGS.replace:
        raise BadInputError("--append and --replace exclude each other")
    _refuse_to_replace(gallery_path)  # before the model loads: fail in a fraction of a second
    embedder = _embedder()

    def waiting():
        print(f"waiting for another process writing in {gallery_path.parent} ...", file=sys.stderr, flush=True)

    with exclusive(gallery_path, on_wait=waiting):
        _refuse_to_replace(gallery_path)  # again: another enroll may have created it meanwhile
        if FLAGS.append and gallery_path.exists():
            gallery = Gallery.load(gallery_path, embedder=embedder)
        else:
            gallery = Gallery(embedder)
        before = len(gallery.names)
        progress = Progress("images")
        report = gallery.enroll_tree(folder, progress=progress)
        progress.close()
        _report_skipped(report.skipped)
        for name in report.empty:
            print(f"not enrolled: {name} (no usable face in its folder)", file=sys.stderr)
        faces = sum(report.enrolled.values())
        if not faces:
            kept = f"{gallery_path} is unchanged" if gallery_path.exists() else "no gallery written"
            print(f"enrolled nobody: no usable face under {folder}; {kept}; skipped {len(report.skipped)} files")
            return 1
        gallery.save(gallery_path)
    print(
        f"enrolled {faces} faces of {len(report.enrolled)} identities into {gallery_path} "
        f"({len(gallery.names)} identities, {len(gallery)} faces in all; {before} before); "
        f"skipped {len(report.skipped)} files"
    )
    return 0


def _refuse_to_replace(gallery_path):
    from mobiface_tf.errors import BadInputError

    if gallery_path.exists() and not (FLAGS.append or FLAGS.replace):
        raise BadInputError(
            "gallery exists; pass --append to add these people to it or --replace to overwrite it",
            path=gallery_path,
        )


def identify(operands):
    """`mobiface identify PHOTO|DIR... --gallery FILE.npz`: the top-k enrolled identities per face.

    One photo: its faces, and an unusable photo is an error with its own exit code. Several photos
    or a folder: the gallery and the model are loaded once, every face of every photo gets a
    result (a JSON line with `--json`, a table row otherwise) as soon as its photo is done,
    unusable files are skipped and reported on stderr with a progress line, and the exit status
    is 1 only when no photo gave a face.
    """
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.gallery import Gallery
    from mobiface_tf.inference import PER_IMAGE_ERRORS

    if not operands:
        raise BadInputError("usage: mobiface identify PHOTO|DIR... --gallery gallery.npz (got no photo)")
    gallery_path = _gallery_flag()
    single = len(operands) == 1 and not Path(operands[0]).is_dir()
    photos, skipped = ([operands[0]], []) if single else _expand_photos(operands)
    if single:
        _check_readable(photos[0])
    gallery = Gallery.load(gallery_path)  # a bad gallery fails before the model loads
    embedder = _embedder()
    gallery.attach(embedder)
    threshold = embedder.threshold
    table = None if FLAGS.json else _IdentifyTable(threshold)
    progress = None if single else Progress("photos")
    faces, not_images = 0, len(skipped)
    # One photo: its error is the command's (exit 3, 4, 5); a batch goes on with the next file.
    per_photo_errors = () if single else PER_IMAGE_ERRORS
    for done, photo in enumerate(photos, 1):
        try:
            found = embedder.embed(photo, aligned=FLAGS.aligned)
        except per_photo_errors as error:
            skipped.append((photo, error))
            found = None
        if found is not None:
            labels, similarities = gallery.search(found.embeddings, top_k=FLAGS.top_k, aggregate=FLAGS.aggregate)
            for row, face in enumerate(found.faces):
                matches = [(gallery.names[label], float(s)) for label, s in zip(labels[row], similarities[row])]
                _print_identified(photo, face, matches, threshold, gallery_path, table)
                faces += 1
        sys.stdout.flush()
        if progress is not None:
            progress(done, len(photos), detail=f"{faces} faces, {len(skipped)} skipped")
    if progress is not None:
        progress.close()
    _report_skipped(skipped)
    if not single:
        files = len(photos) + not_images  # the folders' files that are not images count as skipped
        print(f"identified {faces} faces in {files - len(skipped)} of {files} photos; "
              f"skipped {len(skipped)}", file=sys.stderr)
    return 0 if faces or single else 1


def _expand_photos(operands):
    """`(photos, skipped)`: files as given, folders as every image under them (the one walker,
    `list_image_files`), in order; `skipped` the folders' files that are not images, as
    `(path, reason)` rows for `_report_skipped`."""
    from mobiface_tf.data.sources import list_image_files

    photos, skipped = [], []
    for operand in operands:
        if Path(operand).is_dir():
            listing = list_image_files(operand)
            photos.extend(listing.paths)
            skipped.extend((path, f"{path}: {reason}") for path, reason in listing.skipped)
        else:
            photos.append(operand)
    return photos, skipped


def _print_identified(photo, face, matches, threshold, gallery_path, table):
    """One face's result: a JSON line, or a row of `table`."""
    from mobiface_tf.gallery import identified_name

    name = None if threshold is None else identified_name(matches, threshold[0])
    if table is None:
        from mobiface_tf.inference import face_to_dict

        print(json.dumps({
            "image": str(photo),
            "face": face_to_dict(face),
            "identified": name,
            "matches": [{"name": n, "similarity": round(s, 6)} for n, s in matches],
            "threshold": None if threshold is None else threshold[0],
            "far": None if threshold is None else threshold[1],
            "gallery": str(gallery_path),
        }))
    else:
        table.row(photo, face, name, matches)


class _IdentifyTable:
    """The text output of `identify`: a line on the threshold, then one row per face, the image last."""

    def __init__(self, threshold):
        if threshold is None:
            print("no threshold known (pass --threshold): identity column empty, ranking only")
        else:
            print(f"threshold {threshold[0]:.4f} ({_far_text(threshold[1], threshold[2])})")
        print(f"{'identity':<24} {'best match':<24} {'similarity':>10}  {'face x y w h':<16} image  [next matches]")

    def row(self, photo, face, name, matches):
        box = "aligned crop" if face is None else " ".join(f"{float(v):.0f}" for v in face.box)
        best, similarity = matches[0]
        others = ", ".join(f"{n} {s:.3f}" for n, s in matches[1:])
        identity = name if name is not None else "unknown"
        print(f"{identity:<24} {best:<24} {similarity:>10.4f}  {box:<16} {photo}" + (f"  [{others}]" if others else ""))


# -- helpers --------------------------------------------------------------------------------
def _embedder():
    """The FaceEmbedder the flags describe, with every library's start-up lines silenced.

    A `.tflite` model with the LiteRT detector imports no TensorFlow; a Keras model or
    `--detector mtcnn` does, and TensorFlow's start-up (and GPU probe) happens here, silenced.
    """
    from mobiface_tf.inference import FaceEmbedder

    with native_stderr_silenced():
        if FLAGS.detector == "mtcnn":
            import_tensorflow()
        embedder = FaceEmbedder(
            model=FLAGS.model,
            face_policy=_POLICY[FLAGS.face],
            detector=FLAGS.detector,
            num_threads=FLAGS.num_threads,
            threshold=FLAGS.threshold,
            trust_saved_model=FLAGS.trust_saved_model,
        )
        if "tensorflow" in sys.modules:
            import_tensorflow()  # already imported by a Keras model: probe the GPU quietly
    return embedder


def _operands(operands, count, usage):
    from mobiface_tf.errors import BadInputError

    if len(operands) != count:
        raise BadInputError(f"usage: mobiface {usage} (got {len(operands)} operands: {operands})")
    return operands


def _check_readable(*paths):
    """Decode each image once (cheaply) before TensorFlow starts, so a bad file fails in a fraction of a second."""
    from mobiface_tf.data.images import verify_image

    for path in paths:
        verify_image(path)


def _gallery_flag():
    from mobiface_tf.errors import BadInputError

    if not FLAGS.gallery:
        raise BadInputError("this command needs --gallery FILE.npz")
    return Path(FLAGS.gallery)


def _report_skipped(skipped):
    for _, error in skipped:
        print(f"skipped: {error}", file=sys.stderr)


def _far_text(far, source):
    if far is None:
        return f"threshold from {source}, FAR unknown"
    return f"FAR {far:g}, {source}"


def _face_text(face):
    if face is None:
        return "aligned crop"
    x, y, w, h = (float(v) for v in face.box)
    return f"face at x={x:.0f} y={y:.0f} w={w:.0f} h={h:.0f} (score {face.score:.3f})"


def _or_nan(face, attribute, shape):
    import numpy as np

    return np.full(shape, np.nan, np.float32) if face is None else getattr(face, attribute)


def run():
    """Console-script entry point."""
    run_main(main)
