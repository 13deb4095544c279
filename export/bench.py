"""LiteRT latency benchmark of every registered model at each precision (the paper's Table 2).

All variants live in one process and are timed in interleaved round-robin blocks, so a burst of
load on the shared CPU hits every variant alike and their ratios stay comparable.
"""

import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from mobiface_tf.export import convert, litert, quantize

DELEGATE = "xnnpack"
# Extra row for models with PReLU: int8 without the PReLU rewrite, to show what it costs.
NATIVE_PRELU_INT8 = "int8_native_prelu"


@dataclasses.dataclass
class Variant:
    """One converted model: its `.tflite` bytes and what the table reports about it."""

    model: str
    precision: str
    tflite: bytes
    params: int
    macs: int
    input_dtype: str


def device_name():
    """The CPU model and core count, e.g. 'Intel(R) Xeon(R) ... (2 cores)'."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


def spread_prelu_slopes(model, seed=0):
    """Give every PReLU per-channel slopes in [0, 0.5], as training does (init is 0.25 everywhere),
    so the int8 PReLU rewrite is timed in its general form rather than as a plain LeakyReLU."""
    import keras

    from mobiface_tf.models.profile import iter_layers

    rng = np.random.default_rng(seed)
    for layer in iter_layers(model):
        if isinstance(layer, keras.layers.PReLU):
            shape = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.0, 0.5, shape).astype(np.float32)])


# MobiFace with ReLU is what the demo preset trains: the variant whose int8 graph XNNPACK fuses.
DEFAULT_EXTRA_MODELS = ("mobiface:activation=relu",)


def parse_model_spec(spec):
    """`"name"` or `"name:key=value,key=value"` -> (name, builder kwargs), e.g.
    `"mobiface:activation=relu"`; whole numbers become ints (`embedding_size=128`)."""
    name, _, options = spec.partition(":")
    kwargs = {}
    for item in filter(None, options.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            from mobiface_tf.errors import BadInputError

            raise BadInputError(f"model spec {spec!r}: options are key=value, received {item!r}")
        value = value.strip()
        kwargs[key.strip()] = int(value) if value.isdigit() else value
    return name, kwargs


def build_variants(model_names, precisions, calibration_faces, *, native_prelu=True, log=print):
    """Build each model (random init, 112x112) and convert it at each precision.

    Args:
        model_names: model specs (`parse_model_spec`): registry names with optional options.
        precisions: subset of `convert.PRECISIONS`.
        calibration_faces: faces (N, 112, 112, 3) for full-integer int8.
        native_prelu: also convert int8 without the PReLU rewrite for models with PReLU.
    """
    from mobiface_tf.models import profile, registry

    variants = []
    for name in model_names:
        registry_name, kwargs = parse_model_spec(name)
        model = registry.build_model(registry_name, **kwargs)
        spread_prelu_slopes(model)
        figures = profile.profile_model(model)
        wanted = list(precisions)
        if native_prelu and "int8" in wanted and quantize.count_prelu(model):
            wanted.append(NATIVE_PRELU_INT8)
        for precision in wanted:
            start = time.monotonic()
            tflite = convert.convert(model, "int8" if precision == NATIVE_PRELU_INT8 else precision,
                                     calibration_faces=calibration_faces,
                                     rewrite_prelu=precision != NATIVE_PRELU_INT8)
            dtype = np.dtype(litert.make_interpreter(tflite).get_input_details()[0]["dtype"]).name
            variants.append(Variant(name, precision, tflite, figures["params"], figures["macs"], dtype))
            if log:
                log(f"converted {name} {precision}: {len(tflite) / 1e6:.2f} MB in {time.monotonic() - start:.1f} s")
    return variants


def time_variants(variants, threads=(1, 2), runs=200, warmup=20, blocks=10, face=None, log=print):
    """Time every (variant, threads) pair in round-robin blocks; one result row each.

    Rows carry the Android app's field names: model, precision, delegate, threads, runs,
    init_ms, first_inference_ms, median_ms, p90_ms, mean_ms, device; plus params, macs,
    size_bytes, partitions and undelegated_ops.
    """
    if runs < 1 or blocks < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1, blocks >= 1, warmup >= 0. Received runs={runs}, "
                         f"blocks={blocks}, warmup={warmup}")
    blocks = min(blocks, runs)
    face = np.full((112, 112, 3), 128, np.uint8) if face is None else np.asarray(face)
    device = device_name()
    slots = []
    for variant in variants:
        for num_threads in threads:
            start = time.perf_counter()
            interpreter = litert.make_interpreter(variant.tflite, num_threads=num_threads)
            init_ms = 1e3 * (time.perf_counter() - start)
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], _quantized_input(face, detail))
            start = time.perf_counter()
            interpreter.invoke()
            first_ms = 1e3 * (time.perf_counter() - start)
            for _ in range(warmup):
                interpreter.invoke()
            slots.append({"variant": variant, "threads": num_threads, "interpreter": interpreter,
                          "init_ms": init_ms, "first_inference_ms": first_ms, "times": []})
    per_block = [runs // blocks + (i < runs % blocks) for i in range(blocks)]
    for count in per_block:
        for slot in slots:
            invoke, times = slot["interpreter"].invoke, slot["times"]
            for _ in range(count):
                start = time.perf_counter()
                invoke()
                times.append(time.perf_counter() - start)
    rows = []
    for slot in slots:
        variant, times = slot["variant"], 1e3 * np.asarray(slot["times"])
        delegation = litert.delegation(slot["interpreter"])
        rows.append({
            "model": variant.model, "precision": variant.precision, "delegate": DELEGATE,
            "threads": slot["threads"], "runs": int(len(times)),
            "init_ms": round(slot["init_ms"], 3), "first_inference_ms": round(slot["first_inference_ms"], 3),
            "median_ms": round(float(np.median(times)), 3), "p90_ms": round(float(np.percentile(times, 90)), 3),
            "mean_ms": round(float(times.mean()), 3), "device": device,
            "params": variant.params, "macs": variant.macs, "size_bytes": len(variant.tflite),
            "input_dtype": variant.input_dtype, "partitions": delegation.partitions,
            "undelegated_ops": sorted(set(delegation.undelegated_ops)),
        })
        slot["interpreter"] = None
    if log:
        log(f"timed {len(slots)} interpreters x {runs} runs in {blocks} interleaved blocks")
    return rows


def _quantized_input(face, detail):
    dtype = np.dtype(detail["dtype"])
    x = face[None].astype(np.float32)
    if dtype.kind in "iu":
        scale, zero_point = detail["quantization"]
        info = np.iinfo(dtype)
        x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
    return x.astype(dtype)


def markdown_table(rows):
    """One line per (model, precision): params, multiply-adds, size, latency at each thread count,
    the 1-thread ratio to the same model's float32, and delegate partitions."""
    threads = sorted({row["threads"] for row in rows})
    by_key = {}
    for row in rows:
        by_key.setdefault((row["model"], row["precision"]), {})[row["threads"]] = row
    header = ["model", "precision", "params", "MACs", "size MB"]
    header += [f"{t} thr median / p90 ms" for t in threads] + ["vs float32 (1 thr)", "partitions"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for (model, precision), per_thread in by_key.items():
        first = next(iter(per_thread.values()))
        cells = [model, precision, f"{first['params']:,}", f"{first['macs'] / 1e6:.1f} M",
                 f"{first['size_bytes'] / 1e6:.2f}"]
        cells += [f"{per_thread[t]['median_ms']:.2f} / {per_thread[t]['p90_ms']:.2f}" if t in per_thread else ""
                  for t in threads]
        base = by_key.get((model, "float32"), {}).get(threads[0])
        own = per_thread.get(threads[0])
        cells.append(f"{own['median_ms'] / base['median_ms']:.2f}x" if base and own else "")
        partitions = first["partitions"]
        outside = first["undelegated_ops"]
        cells.append(f"{partitions}" + (f" (+{', '.join(outside)})" if outside else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def run_benchmark(out_dir, *, model_names=None, precisions=convert.PRECISIONS, threads=(1, 2), runs=200,
                  warmup=20, blocks=10, calibration_dir=None, num_calibration=200, native_prelu=True,
                  log=print):
    """Build, convert, time; print the Markdown table and write `bench.json` and `bench.md`.

    Calibration uses real aligned faces from `calibration_dir` when it exists, else uniform
    noise (random-init weights: the figures are latency, not accuracy).
    """
    from mobiface_tf.models import registry

    model_names = list(model_names or [*registry.list_models(), *DEFAULT_EXTRA_MODELS])
    unknown = [m for m in model_names if parse_model_spec(m)[0] not in registry.MODELS]
    if unknown:
        from mobiface_tf.errors import BadInputError

        raise BadInputError(f"unknown models {unknown}; known: {registry.list_models()}")
    if calibration_dir is not None and Path(calibration_dir).is_dir():
        faces, _ = quantize.sample_aligned_faces(calibration_dir, num_calibration)
        calibration = f"{len(faces)} aligned faces from {calibration_dir}"
    else:
        faces = np.random.default_rng(0).integers(0, 256, (num_calibration, 112, 112, 3), dtype=np.uint8)
        calibration = f"{num_calibration} uniform-noise images (no aligned faces at {calibration_dir})"
    log(f"int8 calibration: {calibration}")
    variants = build_variants(model_names, precisions, faces, native_prelu=native_prelu, log=log)
    rows = time_variants(variants, threads=threads, runs=runs, warmup=warmup, blocks=blocks,
                         face=faces[0], log=log)
    lines = [f"LiteRT {_litert_version()}, XNNPACK, batch 1, {runs} runs after {warmup} warm-up, "
             f"{blocks} interleaved blocks, on {rows[0]['device']}; random-init weights.", ""]
    lines += markdown_table(rows)
    for line in lines:
        log(line)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"device": rows[0]["device"], "litert": _litert_version(), "calibration": calibration,
              "runs": runs, "warmup": warmup, "blocks": blocks, "rows": rows}
    (out_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "bench.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {out_dir / 'bench.json'} and {out_dir / 'bench.md'}")
    return result


def _litert_version():
    from importlib import metadata

    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        return "unknown"

