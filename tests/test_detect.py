"""MTCNN detection (real weights, offline) and the face-selection policies."""

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data.detect import FACE_POLICIES, Face, FaceDetector, select_faces
from mobiface_tf.errors import BadInputError, MultipleFacesError, NoFaceError

LFW_SAMPLES = [
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "George_W_Bush/George_W_Bush_0010.jpg",
    "Serena_Williams/Serena_Williams_0003.jpg",
]


def _face(x, y, w, h, score=0.99):
    landmarks = np.array([[x + 0.3 * w, y + 0.4 * h]] * 5, np.float32)
    return Face(box=np.array([x, y, w, h], np.float32), score=score, landmarks5=landmarks)


# A 200x100 photo: a big face on the left edge, a small one in the middle, a medium one right.
BIG_LEFT = _face(0, 10, 60, 60, score=0.90)
SMALL_CENTRE = _face(90, 40, 20, 20, score=0.99)
MEDIUM_RIGHT = _face(140, 20, 40, 40, score=0.95)
PHOTO = (100, 200, 3)


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("largest", [BIG_LEFT]),
        ("central", [SMALL_CENTRE]),
        ("all", [BIG_LEFT, MEDIUM_RIGHT, SMALL_CENTRE]),
    ],
)
def test_policies_pick_the_documented_face(policy, expected):
    chosen = select_faces([SMALL_CENTRE, MEDIUM_RIGHT, BIG_LEFT], policy, PHOTO)
    assert [id(face) for face in chosen] == [id(face) for face in expected]


def test_largest_breaks_ties_by_score():
    weak, strong = _face(0, 0, 30, 30, score=0.8), _face(50, 0, 30, 30, score=0.97)
    assert select_faces([weak, strong], "largest", PHOTO)[0] is strong


def test_single_wants_exactly_one():
    assert select_faces([MEDIUM_RIGHT], "single", PHOTO) == [MEDIUM_RIGHT]
    with pytest.raises(MultipleFacesError, match="crowd.jpg: 2 faces"):
        select_faces([MEDIUM_RIGHT, BIG_LEFT], "single", PHOTO, path="crowd.jpg")


@pytest.mark.parametrize("policy", FACE_POLICIES)
def test_no_face_raises_for_every_policy(policy):
    with pytest.raises(NoFaceError, match="empty.jpg: no face"):
        select_faces([], policy, PHOTO, path="empty.jpg")


def test_unknown_policy_is_named():
    with pytest.raises(BadInputError, match="'biggest'"):
        select_faces([BIG_LEFT], "biggest", PHOTO)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"min_face_size": 0}, "min_face_size"), ({"thresholds": (0.6, 0.7)}, "thresholds"), ({"scale_factor": 1.5}, "scale_factor")],
)
def test_detector_arguments_are_checked(kwargs, message):
    with pytest.raises(BadInputError, match=message):
        FaceDetector(**kwargs)


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_weights_ship_with_the_package_and_nothing_is_downloaded(monkeypatch):
    import mtcnn

    weights = list((Path(mtcnn.__file__).parent / "assets" / "weights").glob("*"))
    assert len(weights) >= 3

    def refuse(*args, **kwargs):
        raise AssertionError("the detector tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    detector = FaceDetector()  # a fresh one: MTCNN is built (weights loaded) under the patch
    faces = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert faces == []  # a blank image has no face
    with pytest.raises(NoFaceError):
        select_faces(faces, "largest", (64, 64, 3))


@pytest.mark.data
def test_lfw_faces_match_the_landmark_file(detector, lfw_dir):
    from mobiface_tf.data.sources import read_landmarks

    reference = read_landmarks(lfw_dir / "landmarks_5pt.txt")
    mtcnn_object = None
    for relpath in LFW_SAMPLES:
        faces = detector.detect(lfw_dir / "images" / relpath)
        assert faces, relpath
        mtcnn_object = mtcnn_object or detector._mtcnn
        assert detector._mtcnn is mtcnn_object  # built once, reused
        (face,) = select_faces(faces, "central", (150, 150, 3))
        assert face.landmarks5.shape == (5, 2) and face.landmarks5.dtype == np.float32
        assert 0.5 < face.score <= 1.0
        # Template order: the eye on the image's left first, mouth corners likewise.
        assert face.landmarks5[0, 0] < face.landmarks5[1, 0]
        assert face.landmarks5[3, 0] < face.landmarks5[4, 0]
        x, y, w, h = face.box
        assert np.all((face.landmarks5 >= [x, y]) & (face.landmarks5 <= [x + w, y + h]))
        error = np.linalg.norm(face.landmarks5 - reference[relpath], axis=1)
        assert error.max() < 5.0, (relpath, error)


@pytest.mark.data
def test_exif_rotated_photo_is_detected_upright(detector, lfw_dir, tmp_path):
    from mobiface_tf.data.images import load_rgb

    upright = load_rgb(lfw_dir / "images" / LFW_SAMPLES[0])
    (expected,) = select_faces(detector.detect(upright), "largest", upright.shape)
    # Stored sideways with orientation 6 ("rotate 90 degrees clockwise to display"), as phones do.
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = tmp_path / "phone.jpg"
    Image.fromarray(np.rot90(upright, k=1)).save(sideways, exif=exif.tobytes(), quality=98)
    (found,) = select_faces(detector.detect(sideways), "largest", upright.shape)
    assert np.abs(found.landmarks5 - expected.landmarks5).max() < 2.5


@pytest.mark.data
def test_mtcnn_agrees_with_the_lfw_landmark_file(detector, lfw_dir):
    """Issue 3's criterion on a seeded sample: all five points within 5 px on >= 98% of images."""
    from mobiface_tf.data.sources import read_landmarks

    reference = read_landmarks(lfw_dir / "landmarks_5pt.txt")
    relpaths = sorted(relpath for relpath in reference if (lfw_dir / "images" / relpath).exists())
    sample = [relpaths[i] for i in np.random.default_rng(1).choice(len(relpaths), size=50, replace=False)]
    agree = 0
    for relpath in sample:
        faces = detector.detect(lfw_dir / "images" / relpath)
        if faces:
            (face,) = select_faces(faces, "central", (150, 150, 3))
            agree += np.linalg.norm(face.landmarks5 - reference[relpath], axis=1).max() <= 5.0
    assert agree / len(sample) >= 0.98, f"{agree} of {len(sample)} agree"
