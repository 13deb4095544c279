"""Golden data for the Android core's Java MTCNN (`MtcnnDetector`), written by `data/detect_lite.py`.

    .venv/bin/python tests/detector_golden.py steps
    .venv/bin/python tests/detector_golden.py photos --out_dir work/android/detector-golden [--lfw_dir ...]

`steps` writes `android_demo/core/src/test/resources/detector/steps.json` (committed, a few KB):
each post-processing step of `detect_lite.py` (pyramid scales, area resizing, crops, P-Net boxes,
NMS, squaring, box regression) on small synthetic inputs, with its result. `MtcnnStepsTest`
checks the Java steps against it; `tests/test_detector_golden.py` checks it is still what
`detect_lite.py` computes.

`photos` runs `LiteFaceDetector` on a few LFW photos (and variants: a non-square region, an
enlarged photo) and records every network call: the input batch and the outputs, as raw
little-endian float32 files, with the faces found, in `manifest.json`. `MtcnnDetectorGoldenTest`
replays the recorded outputs behind the Java networks interface, checks that the Java detector
feeds each network the same input and finds the same faces. The photos are LFW's, so these files
are generated (`make test-java` does it when LFW is there), never committed.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

STEPS_FILE = (Path(__file__).resolve().parents[1] / "android_demo" / "core" / "src" / "test" / "resources"
              / "detector" / "steps.json")

# name -> (LFW image, region (left, top, right, bottom) or None, scale applied after or None).
# A single frontal face, a photo with several faces, a non-square region, an enlarged photo
# (more pyramid levels and many more P-Net boxes).
PHOTOS = {
    "single": ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", None, None),
    "several": ("Ahmet_Demir/Ahmet_Demir_0001.jpg", None, None),
    "wide_region": ("George_W_Bush/George_W_Bush_0096.jpg", (0, 40, 250, 200), None),
    "enlarged": ("Hans_Corell/Hans_Corell_0001.jpg", None, 1.7),
}

OUTPUT_NAMES = {"pnet": ("box_regression", "face_probability"),
                "rnet": ("box_regression", "face_probability"),
                "onet": ("box_regression", "landmarks", "face_probability")}


def _floats(array):
    # float32 values written as the shortest decimal that reads back as the same float32.
    return [float(np.format_float_positional(v, unique=True)) if np.isfinite(v) else None
            for v in np.asarray(array, np.float32).ravel()]


def steps():
    """Each detector step on synthetic inputs: the content of steps.json."""
    from mobiface_tf.data import detect_lite as dl

    rng = np.random.default_rng(16)
    image = rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)
    pyramid = [
        {"height": h, "width": w, "min_face_size": m, "scale_factor": f,
         "scales": [float(s) for s in dl.pyramid_scales(h, w, m, f)]}
        for h, w, m, f in ((250, 250, 20, 0.709), (480, 640, 20, 0.709), (37, 90, 12, 0.5), (1000, 700, 40, 0.8))
    ]
    resize = [{"height": h, "width": w, "pixels": _floats(dl.resize_area(image, h, w))}
              for h, w in ((5, 7), (11, 13), (4, 9), (8, 6), (3, 3))]
    crop_boxes = np.array([[1.0, 2.0, 8.0, 9.0], [-3.5, -2.25, 5.5, 6.75], [6.2, 4.9, 15.7, 14.3],
                           [0.0, 0.0, 12.0, 10.0]])
    crops = {"size": 5, "boxes": crop_boxes.tolist(), "pixels": _floats(dl.crop_and_resize(image, crop_boxes, 5))}

    regression = rng.normal(0, 0.2, (6, 7, 4)).astype(np.float32)
    probability = rng.uniform(0, 1, (6, 7)).astype(np.float32)
    # No ties here: for more than 16 boxes NumPy's argsort orders ties as its sort implementation
    # happens to (MtcnnStepsTest checks the Java rule for ties on its own).
    probability[0, 0] = np.float32(0.6)  # at the threshold: not taken
    pnet = {"rows": 6, "cols": 7, "threshold": 0.6, "regression": _floats(regression),
            "probability": _floats(probability),
            "boxes": dl._pnet_boxes(regression, probability, 0.6).tolist()}

    corners = rng.uniform(0, 40, (24, 2))
    sides = rng.uniform(5, 25, (24, 2))
    boxes = np.concatenate([corners, corners + sides, rng.uniform(0, 1, (24, 1))], axis=1)
    boxes[5] = boxes[2]  # a duplicate
    boxes[7, 4] = boxes[9, 4]  # a score tie
    boxes = dl._sort_by_score(boxes)
    nms = {"boxes": boxes.tolist(),
           "keep": {f"{method}_{threshold}": dl.mtcnn_nms(boxes, threshold, method).tolist()
                    for method, threshold in (("union", 0.5), ("union", 0.7), ("min", 0.7), ("min", 0.3))}}
    offsets = rng.normal(0, 0.1, (24, 4)).astype(np.float32)
    return {
        "format": "mobiface-detector-steps/1",
        "writer": "tests/detector_golden.py steps (mobiface_tf/data/detect_lite.py)",
        "layout": "images and crops: interleaved RGB, row-major; float32 values as JSON numbers",
        "pyramid": pyramid,
        "image": {"height": 11, "width": 13, "pixels": image.ravel().tolist()},
        "resize_area": resize,
        "crop_and_resize": crops,
        "pnet_boxes": pnet,
        "nms": nms,
        "square": dl._square(boxes).tolist(),
        "regress": {"offsets": _floats(offsets), "boxes": dl._regress(boxes, offsets).tolist()},
    }


def write_steps(path=STEPS_FILE):
    """Write steps.json (one line per top-level key, so a diff stays readable)."""
    content = steps()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in content.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def photo(lfw_dir, relpath, region, scale):
    """An LFW photo as RGB uint8, cut to `region` and resized by `scale` (bicubic) when given."""
    from mobiface_tf.data.images import load_rgb

    image = load_rgb(Path(lfw_dir) / "images" / relpath)
    if region is not None:
        image = image[region[1]:region[3], region[0]:region[2]].copy()
    if scale is not None:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    return np.ascontiguousarray(image)


def record_detection(detector, image):
    """(faces, calls): `detector.detect(image)` with every network call's input and outputs."""
    networks = detector._load()
    calls = []
    originals = {}
    for name, network in networks.items():
        originals[name] = network.run

        def recording(batch, names, name=name, run=network.run):
            outputs = run(batch, names)
            by_name = dict(zip(names, outputs))
            calls.append((name, np.asarray(batch, np.float32), {key: by_name[key] for key in OUTPUT_NAMES[name]}))
            return outputs

        network.run = recording
    try:
        faces = detector.detect(image)
    finally:
        for name, network in networks.items():
            network.run = originals[name]
    return faces, calls


def write_photos(lfw_dir, out_dir):
    """Record the detector on `PHOTOS` into `out_dir`; returns the manifest path."""
    from mobiface_tf.data.detect_lite import LiteFaceDetector

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    detector = LiteFaceDetector()
    cases = []
    for name, (relpath, region, scale) in PHOTOS.items():
        image = photo(lfw_dir, relpath, region, scale)
        (out_dir / f"{name}.rgb").write_bytes(image.tobytes())
        faces, calls = record_detection(detector, image)
        recorded = []
        for index, (network, batch, outputs) in enumerate(calls):
            stem = f"{name}.{index:02d}.{network}"
            (out_dir / f"{stem}.input.f32").write_bytes(batch.astype("<f4").tobytes())
            entry = {"network": network, "input_shape": list(batch.shape), "input": f"{stem}.input.f32",
                     "outputs": {}}
            for key, value in outputs.items():
                (out_dir / f"{stem}.{key}.f32").write_bytes(np.asarray(value, "<f4").tobytes())
                entry["outputs"][key] = {"shape": list(value.shape), "file": f"{stem}.{key}.f32"}
            recorded.append(entry)
        cases.append({
            "name": name, "lfw_image": relpath, "width": int(image.shape[1]), "height": int(image.shape[0]),
            "image": f"{name}.rgb",
            "settings": {"min_face_size": detector.min_face_size, "thresholds": list(detector.thresholds),
                         "scale_factor": detector.scale_factor},
            "calls": recorded,
            "faces": [{"box": [float(v) for v in face.box], "score": float(face.score),
                       "landmarks5": [[float(x), float(y)] for x, y in face.landmarks5]} for face in faces],
        })
        print(f"{name}: {image.shape[1]}x{image.shape[0]}, {len(calls)} network calls, {len(faces)} faces")
    manifest = out_dir / "manifest.json"
    manifest.write_text(json.dumps({
        "format": "mobiface-detector-golden/1",
        "writer": "tests/detector_golden.py photos (mobiface_tf/data/detect_lite.py on LiteRT)",
        "layout": "images: raw interleaved RGB bytes; arrays: raw little-endian float32, row-major",
        "cases": cases,
    }, indent=1) + "\n")
    return manifest


def main():
    from mobiface_tf import paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("steps", "photos"))
    parser.add_argument("--lfw_dir", default=None, help="LFW folder (default: <data>/lfw)")
    parser.add_argument("--out_dir", default=None, help="photos: where to write (required)")
    args = parser.parse_args()
    if args.what == "steps":
        path = write_steps()
        print(f"{path}: {path.stat().st_size:,} bytes")
        return
    if not args.out_dir:
        parser.error("photos needs --out_dir")
    lfw_dir = Path(args.lfw_dir) if args.lfw_dir else paths.data_root() / "lfw"
    print(write_photos(lfw_dir, args.out_dir))


if __name__ == "__main__":
    main()
