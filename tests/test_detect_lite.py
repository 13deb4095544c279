"""The LiteRT MTCNN detector: each step against the mtcnn/TensorFlow code it repeats, then whole photos."""

import hashlib
import importlib.metadata
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mobiface_tf.data import detect_lite
from mobiface_tf.data.detect_lite import LiteFaceDetector
from mobiface_tf.data.faces import Face, box_iou
from mobiface_tf.errors import BadInputError, ModelLoadError

# Photo sizes whose pyramids the step tests walk: LFW's, VGA, and an odd one.
SHAPES = [(150, 150), (480, 640), (333, 517)]


@pytest.fixture(scope="module")
def detector():
    return LiteFaceDetector()


def test_networks_ship_with_their_provenance():
    provenance = json.loads((detect_lite.MTCNN_ASSETS / "provenance.json").read_text())
    assert provenance["mtcnn_version"] == importlib.metadata.version("mtcnn")
    for filename in detect_lite.NETWORK_FILES.values():
        digest = hashlib.sha256((detect_lite.MTCNN_ASSETS / filename).read_bytes()).hexdigest()
        assert digest == provenance["tflite_sha256"][filename], filename
    assert (detect_lite.MTCNN_ASSETS / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.parametrize("shape", SHAPES)
def test_pyramid_and_area_resize_match_mtcnn(shape):
    import tensorflow as tf
    from mtcnn.utils.images import build_scale_pyramid, scale_images

    height, width = shape
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3)).astype(np.uint8)
    scales = detect_lite.pyramid_scales(height, width, 20, 0.709)
    np.testing.assert_array_equal(scales, build_scale_pyramid(width, height, 20, 0.709))
    resizer = detect_lite._AreaResizer(image)
    for scale in scales:
        expected = scale_images(image[None].astype(np.float64), scale).numpy()[0]
        level_h, level_w = (np.asarray([height, width]) * scale).astype(int)
        assert expected.shape[:2] == (level_h, level_w)
        np.testing.assert_allclose(resizer.resize(level_h, level_w), expected, atol=1e-3)
    # Sizes off the pyramid too, including one that is not a reduction.
    for size in [(7, 5), (height - 1, width - 3), (height, width)]:
        expected = tf.image.resize(image[None].astype(np.float64), size, method="area").numpy()[0]
        np.testing.assert_allclose(detect_lite.resize_area(image, *size), expected, atol=1e-3)


@pytest.mark.parametrize("size", [24, 48])
def test_crops_match_mtcnn_extract_patches(size):
    from mtcnn.utils.images import extract_patches

    rng = np.random.default_rng(size)
    image = rng.integers(0, 256, (120, 160, 3)).astype(np.uint8)
    corner = rng.uniform(-30, 150, (40, 2))
    side = rng.uniform(2, 90, (40, 1))
    # Boxes inside, across the edges and past them; one of exactly one pixel.
    boxes = np.concatenate([np.concatenate([corner, corner + side], axis=1), [[10, 10, 11, 11]]])
    normalized = ((image.astype(np.float64) - 127.5) / 128)[None]
    rows = np.concatenate([np.zeros((len(boxes), 1)), boxes], axis=1)
    expected = extract_patches(normalized, rows, expected_size=(size, size)).numpy()
    np.testing.assert_allclose(detect_lite.crop_and_resize(image, boxes, size), expected, atol=1e-5)


@pytest.mark.parametrize("method", ["union", "min"])
def test_nms_is_mtcnn_nms(method):
    from mtcnn.utils.bboxes import smart_nms_from_bboxes

    rng = np.random.default_rng(7)
    corner = rng.uniform(0, 100, (300, 2))
    side = rng.uniform(5, 40, (300, 2))
    boxes = np.concatenate([corner, corner + side, rng.uniform(0, 1, (300, 1))], axis=1)
    boxes = boxes[np.argsort(boxes[:, 4])[::-1]]
    rows = np.concatenate([np.zeros((len(boxes), 1)), boxes], axis=1)
    for threshold in (0.3, 0.5, 0.7):
        expected = smart_nms_from_bboxes(rows, threshold=threshold, method=method, initial_sort=False)
        kept = boxes[detect_lite.mtcnn_nms(boxes, threshold, method)]
        np.testing.assert_array_equal(kept, expected[:, 1:])


@pytest.mark.parametrize("name, shapes", [
    ("pnet", [(1, 12, 12, 3), (1, 90, 63, 3), (1, 150, 150, 3)]),
    ("rnet", [(1, 24, 24, 3), (37, 24, 24, 3), (130, 24, 24, 3)]),
    ("onet", [(1, 48, 48, 3), (5, 48, 48, 3), (70, 48, 48, 3)]),
])
def test_litert_networks_compute_mtcnn_keras_networks(name, shapes):
    from mobiface_tf.export.detector import NETWORKS, mtcnn_network

    keras_network = mtcnn_network(name)
    outputs = NETWORKS[name][4]
    network = detect_lite._Network(detect_lite.MTCNN_ASSETS / detect_lite.NETWORK_FILES[name], 1,
                                   *detect_lite._NETWORK_RUNS[name])
    for shape in shapes:
        batch = np.random.default_rng(shape[0]).uniform(-1, 1, shape).astype(np.float32)
        expected = [np.asarray(tensor) for tensor in keras_network(batch)]
        for got, want in zip(network.run(batch, outputs), expected):
            np.testing.assert_allclose(got, want, atol=2e-4, err_msg=f"{name} {shape}")


def test_a_blank_or_tiny_image_has_no_face(detector):
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []
    assert detector.detect(np.full((8, 300, 3), 128, np.uint8)) == []  # too small for one P-Net window


@pytest.mark.parametrize(
    "kwargs, message",
    [({"min_face_size": 0}, "min_face_size"), ({"thresholds": (0.6, 0.7)}, "thresholds"),
     ({"scale_factor": 1.5}, "scale_factor"), ({"num_threads": 0}, "num_threads"), ({"max_side": 40}, "max_side")],
)
def test_arguments_are_checked(kwargs, message):
    with pytest.raises(BadInputError, match=message):
        LiteFaceDetector(**kwargs)


def test_missing_network_file_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="pnet.tflite"):
        LiteFaceDetector(model_dir=tmp_path).detect(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.data
def test_detector_runs_quietly_with_tensorflow_and_mtcnn_unimportable(lfw_dir):
    # sys.modules[name] = None makes `import name` raise ImportError: what an install without
    # TensorFlow would do.
    script = textwrap.dedent(f"""
        import sys
        for name in ("tensorflow", "keras", "mtcnn", "tf_keras"):
            sys.modules[name] = None
        from mobiface_tf.data.detect_lite import LiteFaceDetector
        from mobiface_tf.data.faces import select_faces
        faces = LiteFaceDetector().detect({str(lfw_dir / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")!r})
        (face,) = select_faces(faces, "central", (150, 150, 3))
        loaded = sorted(name for name, module in sys.modules.items()
                        if module is not None and name.split(".")[0] in ("tensorflow", "keras", "mtcnn"))
        print(len(faces), face.landmarks5.shape, loaded)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    # Nothing on stderr: LiteRT's XNNPACK announcement is held back (mobiface_tf.quiet).
    assert result.returncode == 0 and result.stderr == "", result.stderr
    count, _, rest = result.stdout.strip().partition(" ")
    assert int(count) >= 1 and rest.endswith("[]"), result.stdout


# A fixed LFW sample for parity: every 331st image of the sorted list (40 photos, many people).
def _lfw_sample(lfw_dir, step=331):
    return sorted((lfw_dir / "images").glob("*/*.jpg"))[::step]


@pytest.mark.data
def test_same_faces_as_the_mtcnn_package_on_lfw(detector, lfw_dir):
    """Issue 16's criterion: the same faces found, landmarks within 1 px median."""
    from mobiface_tf.data.detect import FaceDetector

    reference = FaceDetector()
    landmark_errors = []
    for path in _lfw_sample(lfw_dir):
        expected, found = reference.detect(path), detector.detect(path)
        assert len(found) == len(expected), (path.name, len(expected), len(found))
        for want in expected:
            got = max(found, key=lambda face: box_iou(face.box, want.box))
            assert isinstance(got, Face) and box_iou(got.box, want.box) > 0.9, path.name
            assert abs(got.score - want.score) < 1e-3, path.name
            landmark_errors.extend(np.linalg.norm(got.landmarks5 - want.landmarks5, axis=1))
    assert len(landmark_errors) >= 5 * 40
    assert np.median(landmark_errors) <= 1.0
    assert np.max(landmark_errors) <= 1.0, np.max(landmark_errors)



def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
