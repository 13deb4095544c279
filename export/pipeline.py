"""The whole export job: load a run, convert at each precision, check parity, write parity.json."""

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from mobiface_tf.export import convert, litert, parity, quantize
from mobiface_tf.errors import DataNotFoundError


def provenance(checkpoint, run_config):
    """Where an exported model came from, with no absolute path of the machine that made it.

    Returns `{"run", "file", "step", "config_sha256", "preset", "model", "loss", "teacher", "data"}`:
    the run folder's name, the `.keras` file's name, the last step in the run's metrics.jsonl, a
    hash of its config.json, and the training data by folder name (None where unknown).
    """
    checkpoint = Path(checkpoint)
    config = run_config or {}
    step = None
    metrics = checkpoint.parent / "metrics.jsonl"
    if run_config is not None and metrics.is_file():
        steps = [json.loads(line).get("step") for line in metrics.read_text().splitlines() if line.strip()]
        step = max((s for s in steps if isinstance(s, int)), default=None)
    return {
        "run": checkpoint.parent.name if run_config is not None else None,
        "file": checkpoint.name,
        "step": step,
        "config_sha256": (hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
                          if run_config is not None else None),
        **{key: config.get(key) for key in ("preset", "model", "loss")},
        "teacher": Path(config["teacher"]).name if config.get("teacher") else None,
        "data": None if run_config is None else {
            # Runs started before record datasets joined the folder trees named the field train_dirs.
            "train_data": (_names(config.get("train_data", config.get("train_dirs")))
                           or "default (aligned CelebA subset)"),
            "unlabeled_dirs": _names(config.get("unlabeled_dirs")),
            "lfw_train": config.get("lfw_train"), "val_folds": config.get("val_folds")},
    }


def _names(paths):
    return [Path(path).name for path in paths or []]


def export_run(model_path, out_dir, *, precisions=convert.PRECISIONS, calibration_dir=None,
               num_calibration=300, lfw_dir=None, num_parity=parity.MIN_PARITY_FACES,
               int8_input="uint8", rewrite_prelu=True, name=None, log=print):
    """Export a run folder or `.keras` face model and check every file against the Keras model.

    Args:
        model_path: a training run folder (`best.keras`, else `final.keras`) or a `.keras` file.
        out_dir: where `<name>_<precision>.tflite`, its `.json` and `parity.json` go.
        precisions: subset of `convert.PRECISIONS`.
        calibration_dir: aligned `<identity>/<file>.jpg` training faces; int8 calibrates on
            `num_calibration` of them, and without LFW parity uses `num_parity` others.
        lfw_dir: LFW folder for accuracy parity and the recommended threshold; None or missing
            means cosine parity only and a null threshold (with the reason in the metadata).
        int8_input, rewrite_prelu: see `convert.convert`.
        name: file-name stem, default the model's name.

    Returns:
        The parity report dict (also written to `out_dir/parity.json`).

    Raises:
        ModelLoadError, DataNotFoundError, BadInputError: one-line user errors.
    """
    start = time.monotonic()
    model, checkpoint, run_config = convert.load_face_model(model_path)
    name = name or model.name
    log(f"loaded {checkpoint} ({model.name}, embedding {model.outputs[0].shape[-1]})")

    calibration_faces, calibration_paths = None, []
    needs_tree = "int8" in precisions or lfw_dir is None or not Path(lfw_dir).is_dir()
    if needs_tree:
        if calibration_dir is None or not Path(calibration_dir).is_dir():
            raise DataNotFoundError("aligned training faces not found (int8 calibration and parity need them; "
                                    "run `make align` or pass --calibration_dir)", calibration_dir)
    if "int8" in precisions:
        if num_calibration < convert.MIN_CALIBRATION_FACES:
            raise DataNotFoundError(f"int8 calibration needs at least {convert.MIN_CALIBRATION_FACES} faces, "
                                    f"asked for {num_calibration}", calibration_dir)
        calibration_faces, calibration_paths = quantize.sample_aligned_faces(calibration_dir, num_calibration)
        log(f"calibration: {len(calibration_faces)} faces from {calibration_dir}")

    from mobiface_tf.embedding import EmbeddingModel

    keras_model = EmbeddingModel.from_keras(model)
    benchmark, threshold_note = None, None
    if lfw_dir is not None and Path(lfw_dir).is_dir():
        from mobiface_tf.eval.lfw import LfwBenchmark

        benchmark = LfwBenchmark(lfw_dir, log=log)
        faces = benchmark.faces
        log(f"parity faces: {len(faces)} aligned LFW images")
    else:
        threshold_note = f"no LFW folder at {lfw_dir}: threshold not computed"
        faces, _ = quantize.sample_aligned_faces(calibration_dir, num_parity, seed=1, exclude=calibration_paths)
        log(f"parity faces: {len(faces)} held-out faces from {calibration_dir} ({threshold_note})")

    keras_embeddings = keras_model.embed(faces)
    lfw_keras = None
    if benchmark is not None:
        lfw_keras = parity.lfw_summary(benchmark.evaluate(keras_model.embed, flip="off",
                                                          embeddings={"plain": keras_embeddings}))
        log(f"keras LFW accuracy {100 * lfw_keras['accuracy']:.2f}%")
    threshold = parity.recommended_threshold(lfw_keras)
    extra = {"source": provenance(checkpoint, run_config)}
    if threshold is None:
        extra["threshold_note"] = threshold_note or "LFW gave no threshold at FAR 1e-3"

    paths = convert.export_all(model, out_dir, name=name, precisions=precisions,
                               calibration_faces=calibration_faces, int8_input=int8_input,
                               rewrite_prelu=rewrite_prelu, threshold=threshold, extra=extra, log=log)

    from mobiface_tf.embedding import load_embedding_model

    report = {"model": name, "checkpoint": str(checkpoint), "parity_faces": int(len(faces)),
              "calibration_faces": 0 if calibration_faces is None else int(len(calibration_faces)),
              "keras": {"lfw": lfw_keras}, "threshold": threshold, "exports": {}}
    for precision, path in paths.items():
        exported = load_embedding_model(path, num_threads=2)
        embeddings = exported.embed(faces)
        entry = {"file": path.name, "size_bytes": path.stat().st_size,
                 "cosine": parity.cosine_parity(keras_embeddings, embeddings), "lfw": None}
        if benchmark is not None:
            entry["lfw"] = parity.lfw_summary(benchmark.evaluate(exported.embed, flip="off",
                                                                 embeddings={"plain": embeddings}))
        delegation = litert.delegation(litert.make_interpreter(path, num_threads=1))
        entry["delegate_partitions"] = delegation.partitions
        entry["undelegated_ops"] = sorted(set(delegation.undelegated_ops))
        entry["targets"] = parity.check_targets(precision, entry["cosine"], lfw_keras, entry["lfw"])
        report["exports"][precision] = entry
        log(f"{precision}: cosine mean {entry['cosine']['mean']:.6f} min {entry['cosine']['min']:.6f}, "
            f"{delegation.partitions} delegate partition(s)")
    report["seconds"] = round(time.monotonic() - start, 1)
    out_path = Path(out_dir) / "parity.json"
    out_path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    for line in parity.format_report(report):
        log(line)
    log(f"wrote {out_path}")
    return report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
