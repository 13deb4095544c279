"""`mobiface-eval`: score face embedding models on LFW, `.bin` sets and identification; write
report.json, roc.png and identification.png.

Examples:
  mobiface-eval --model work/runs/mobiface_arcface            # a training run folder
  mobiface-eval --model a.tflite --input_mean 127.5 --input_std 128 --model b.keras
  mobiface-eval --model m.keras --ident_dir work/aligned/celeba_subset \\
      --distractors_dir work/aligned/lfw --synthetic_distractors 1000000
"""

import datetime
import sys
import time
from pathlib import Path

from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("model", None, "Model: .keras, .tflite or run folder (a SavedModel "
                          "with --trust_saved_model). Repeat to compare several models on one plot.")
flags.DEFINE_bool("trust_saved_model", False, "Also accept TensorFlow SavedModel folders as --model. Off by "
                  "default because a SavedModel is a program: loading and calling it runs whatever "
                  "TensorFlow ops it holds (reading and writing files included). Pass it only for "
                  "SavedModels you made yourself.")
flags.DEFINE_string("lfw_dir", None, "LFW folder (raw with images/ and pairs.txt, or aligned); "
                    "default <data>/lfw; empty string skips LFW.")
flags.DEFINE_list("lfw_folds", None, "0-based LFW View 2 folds to use (default all ten).")
flags.DEFINE_enum("align", "auto", ["auto", "landmarks", "mtcnn", "aligned"],
                  "How LFW is aligned: auto = landmarks_5pt.txt when present, else an aligned "
                  "tree when images are 112x112, else MTCNN.")
flags.DEFINE_enum("flip", "both", ["both", "on", "off"],
                  "Flip test-time augmentation (embedding of face + mirror, summed): both "
                  "reports verification with and without it; identification embeds with it "
                  "only when on.")
flags.DEFINE_multi_string("bin", [], "InsightFace verification .bin file (lfw, cfp_fp, ...).")
flags.DEFINE_string("ident_dir", None, "Aligned identity tree for identification probes and "
                    "gallery (first image per identity in the gallery).")
flags.DEFINE_string("distractors_dir", None, "Folder of aligned 112x112 distractor faces "
                    "(people absent from --ident_dir), searched recursively.")
flags.DEFINE_list("ident_lfw_folds", None, "Identification on people never trained on: "
                  "--ident_dir is an aligned LFW tree; the people of these View 2 folds "
                  "(1-based; people.txt from --lfw_dir, or <data>/lfw when it is empty) with "
                  ">= 2 images are identified (first image enrolled, all others probes) and "
                  "every other image of the tree is a distractor. --distractors_dir and "
                  "--max_probes_per_identity are then unused.")
flags.DEFINE_integer("synthetic_distractors", 0, "Add this many random unit-vector distractors "
                     "(seeded) after the real ones: a scale test, not an accuracy figure.")
flags.DEFINE_list("ident_sizes", ["10", "100", "1000", "10000", "100000", "1000000"],
                  "Distractor counts at which rank-1 is reported.")
flags.DEFINE_integer("max_probes_per_identity", 5, "Probes kept per identity.")
flags.DEFINE_list("far", ["1e-3"], "FARs for TAR@FAR on verification sets.")
flags.DEFINE_string("out", None, "Output folder (default <work>/eval/<model>_<time>).")
flags.DEFINE_float("input_mean", None, "Pixel mean to subtract (models without metadata).")
flags.DEFINE_float("input_std", None, "Pixel std to divide by (with --input_mean).")
flags.DEFINE_bool("normalization_inside", None, "Feed raw 0..255 pixels (the model "
                  "normalizes itself), overriding the metadata.")
flags.DEFINE_integer("num_threads", None, "LiteRT CPU threads.")
flags.DEFINE_integer("batch_size", 64, "Faces per forward pass.")
flags.DEFINE_bool("cache", True, "Reuse cached aligned crops and embeddings.")


def _floats(values, name):
    from mobiface_tf.errors import BadInputError

    try:
        return [float(v) for v in values]
    except ValueError:
        raise BadInputError(f"--{name} takes numbers, received {values}") from None


def _log(line):
    print(line, file=sys.stderr, flush=True)


def _lfw_fold_people(folds):
    """Names of the people of LFW View 2 `folds` (1-based strings), from --lfw_dir's people.txt."""
    from mobiface_tf.data.sources import read_people
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.paths import data_root

    lfw_dir = Path(FLAGS.lfw_dir) if FLAGS.lfw_dir else data_root() / "lfw"  # "" skips LFW pairs only
    people = read_people(lfw_dir / "people.txt")
    wanted = [int(f) for f in _floats(folds, "ident_lfw_folds")]
    if any(not 1 <= f <= len(people) for f in wanted):
        raise BadInputError(f"--ident_lfw_folds must be folds 1..{len(people)}. Received `{folds}`")
    return {name for f in wanted for name, _ in people[f - 1]}


def _warn(name, result):
    """The warnings of a verification result (sets too small for their folds), once each, on stderr."""
    seen = []
    for key in ("no_flip", "flip_sum"):
        for warning in result.get(key, {}).get("warnings", []):
            if warning not in seen:
                seen.append(warning)
                _log(f"warning: {name}: {warning}")


def _identification(model, fars):
    import numpy as np

    from mobiface_tf.data.images import load_rgb
    from mobiface_tf.data.sources import list_identity_tree, list_image_files
    from mobiface_tf.eval.identification import (DEFAULT_IDENT_FARS, DistractorSet, held_out_split,
                                                 identification_metrics, split_gallery_probes)
    from mobiface_tf.eval.flip_study import two_pass_average
    from mobiface_tf.eval.lfw import cache_dir

    # Identification embeds each face once, or with --flip=on face + mirror (flip-sum); "both"
    # would double the cost of every distractor, so it means one pass here.
    flip = FLAGS.flip == "on"
    embed = two_pass_average(model.embed) if flip else model.embed
    paths, labels, names = list_identity_tree(FLAGS.ident_dir)
    files, cache_name = None, None
    if FLAGS.ident_lfw_folds:
        gallery, probes, distractors = held_out_split(labels, names, _lfw_fold_people(FLAGS.ident_lfw_folds))
        files = [paths[i] for i in distractors]
        cache_name = f"{Path(FLAGS.ident_dir).name}_not_folds{'-'.join(FLAGS.ident_lfw_folds)}"
    else:
        gallery, probes = split_gallery_probes(labels,
                                               max_probes_per_identity=FLAGS.max_probes_per_identity)
    used = np.r_[gallery, probes]
    embeddings = embed(np.stack([load_rgb(paths[i]) for i in used]))
    gallery_emb, probe_emb = embeddings[:len(gallery)], embeddings[len(gallery):]
    parts = []
    if FLAGS.distractors_dir and files is None:
        root = Path(FLAGS.distractors_dir)
        listing = list_image_files(root)
        files = listing.paths
        if listing.skipped:
            _log(f"distractors: {len(listing.skipped)} files under {root} are not images and were skipped, "
                 f"e.g. {listing.skipped[0][0]} ({listing.skipped[0][1]})")
        cache_name = root.name
    if files:
        suffix = "_flip" if flip else ""
        key = f"{model.fingerprint}{suffix}" if FLAGS.cache and model.fingerprint else None
        cache = cache_dir() / "distractors" / f"{cache_name}_{model.fingerprint or 'nocache'}{suffix}.npy"
        parts.append(DistractorSet.from_faces(cache, files, embed, model_key=key)
                     .embeddings)
    if FLAGS.synthetic_distractors:
        cache = (cache_dir() / "distractors"
                 / f"synthetic_{FLAGS.synthetic_distractors}_{model.embedding_size}.npy")
        parts.append(DistractorSet.synthetic(cache, FLAGS.synthetic_distractors,
                                             model.embedding_size).embeddings)
    if len(parts) == 1:
        distractors = parts[0]
    elif parts:
        distractors = np.concatenate([np.asarray(p, np.float16) for p in parts])
    else:
        distractors = np.zeros((0, model.embedding_size), np.float32)
    start = time.monotonic()
    result = identification_metrics(
        probe_emb, labels[probes], gallery_emb, labels[gallery], distractors,
        sizes=[int(s) for s in FLAGS.ident_sizes], fars=DEFAULT_IDENT_FARS)
    result["seconds"] = time.monotonic() - start
    result["synthetic_distractors"] = FLAGS.synthetic_distractors
    result["flip_sum"] = flip
    return result


def main(argv):
    """Evaluate each --model and write the report and plots."""
    from mobiface_tf.embedding import load_embedding_model
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.eval import report
    from mobiface_tf.eval.lfw import LfwBenchmark, evaluate_bin
    from mobiface_tf.paths import data_root, work_root
    from mobiface_tf.storage import check_output_folder

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}; models are given with --model PATH")
    if not FLAGS.model:
        raise BadInputError("give at least one --model PATH")
    if FLAGS.out:
        check_output_folder(FLAGS.out, "--out folder")
    fars = _floats(FLAGS.far, "far")
    models = [load_embedding_model(path, input_mean=FLAGS.input_mean,
                                   input_std=FLAGS.input_std,
                                   normalization_inside=FLAGS.normalization_inside,
                                   num_threads=FLAGS.num_threads, batch_size=FLAGS.batch_size,
                                   trust_saved_model=FLAGS.trust_saved_model)
              for path in FLAGS.model]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = models[0].name if len(models) == 1 else "compare"
    out = Path(FLAGS.out) if FLAGS.out else work_root() / "eval" / f"{label}_{stamp}"
    out.mkdir(parents=True, exist_ok=True)

    lfw_dir = data_root() / "lfw" if FLAGS.lfw_dir is None else FLAGS.lfw_dir
    benchmark = None
    if lfw_dir:
        folds = None if FLAGS.lfw_folds is None else [int(f) for f in FLAGS.lfw_folds]
        cache_path = None if FLAGS.cache else out / "lfw_aligned.npz"
        benchmark = LfwBenchmark(lfw_dir, folds=folds, align=FLAGS.align,
                                 cache_path=cache_path, log=_log)

    entries, roc_curves, ident_curves = [], {}, {}
    for path, model in zip(FLAGS.model, models):
        entry = {"name": model.name, "path": str(path), "embedding_size": model.embedding_size,
                 "fingerprint": model.fingerprint,
                 "input": model.metadata.get("input")}
        if benchmark is not None:
            start = time.monotonic()
            entry["lfw"] = benchmark.evaluate_model(model, flip=FLAGS.flip, fars=fars,
                                                    use_cache=FLAGS.cache)
            entry["lfw"]["seconds"] = time.monotonic() - start
            for key, text in (("no_flip", "no flip"), ("flip_sum", "flip-sum")):
                if key in entry["lfw"]:
                    roc = entry["lfw"][key]["roc"]
                    roc_curves[f"{model.name} ({text}), acc "
                               f"{100 * entry['lfw'][key]['accuracy_mean']:.2f}%"] = (
                        roc["fpr"], roc["tpr"])
            print(report.summary_line(f"{model.name} LFW", entry["lfw"]), flush=True)
            _warn(f"{model.name} LFW", entry["lfw"])
        for bin_path in FLAGS.bin:
            result = evaluate_bin(bin_path, model, flip=FLAGS.flip, fars=fars,
                                  use_cache=FLAGS.cache)
            entry.setdefault("bins", {})[Path(bin_path).stem] = result
            print(report.summary_line(f"{model.name} {Path(bin_path).stem}", result), flush=True)
            _warn(f"{model.name} {Path(bin_path).stem}", result)
        if FLAGS.ident_dir:
            result = _identification(model, fars)
            entry["identification"] = result
            ident_curves[model.name] = ([r["distractors"] for r in result["rank1"]],
                                        [r["rate"] for r in result["rank1"]])
            rank1 = result["rank1"][-1]
            print(f"{model.name} identification{' (flip-sum)' if result['flip_sum'] else ''}: rank-1 {100 * rank1['rate']:.2f}% with "
                  f"{rank1['distractors']} distractors ({result['probes']} probes, "
                  f"{result['gallery']} identities)"
                  + "".join(f", TAR {100 * t['tar']:.2f}% @ FAR {t['far']:g}"
                            for t in result["tar_at_far"] if t["far"] in (1e-3, 1e-4)), flush=True)
        entries.append(entry)

    settings = {k: FLAGS[k].value for k in ("lfw_dir", "lfw_folds", "align", "flip", "bin",
                                            "ident_dir", "distractors_dir",
                                            "synthetic_distractors", "far", "input_mean",
                                            "input_std", "normalization_inside")}
    settings["lfw_dir"] = str(lfw_dir)
    written = [report.write_json({"created": stamp, "command": " ".join(sys.argv),
                                  "settings": settings, "models": entries},
                                 out / "report.json")]
    if roc_curves:
        written.append(report.plot_roc(roc_curves, out / "roc.png"))
    if ident_curves:
        written.append(report.plot_identification(ident_curves, out / "identification.png"))
    _log("wrote " + ", ".join(str(p) for p in written))


def run():
    """Console-script entry point."""
    from mobiface_tf.cli.common import run_main

    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
