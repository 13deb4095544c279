"""Large photos: detection runs on a downscaled copy, landmarks come back in the photo's coordinates,
the face is warped from the full-resolution photo, and verification accuracy is unchanged; for both
detectors (mtcnn on TensorFlow, and LiteRT), which share the rule (`data/faces.MtcnnDetector.detect`).

Memory and time on 12 MP and 8000x8000 photos are measured by tests/benchmarks/bench_large_photos.py.
"""

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data.detect import FaceDetector, downscale_for_detection
from mobiface_tf.data.detect_lite import LiteFaceDetector
from mobiface_tf.errors import BadInputError

DETECTORS = [pytest.param(FaceDetector, id="mtcnn"), pytest.param(LiteFaceDetector, id="litert")]


def test_downscale_keeps_small_photos_and_maps_pixel_centres():
    small = np.zeros((300, 200, 3), np.uint8)
    same, scale = downscale_for_detection(small, 1280)
    assert same is small and scale == (1.0, 1.0)
    big = np.zeros((3000, 4000, 3), np.uint8)
    copy, (sx, sy) = downscale_for_detection(big, 1280)
    assert copy.shape == (960, 1280, 3) and sx == sy == pytest.approx(3.125)
    for detector in (FaceDetector, LiteFaceDetector):
        assert detector().max_side == 1280
        with pytest.raises(BadInputError, match="max_side"):
            detector(max_side=40)


def _lfw_photo(lfw_dir, name, number=1):
    return np.asarray(Image.open(lfw_dir / "images" / name / f"{name}_{number:04d}.jpg").convert("RGB"))


@pytest.mark.data
@pytest.mark.parametrize("detector", DETECTORS)
def test_landmarks_of_a_downscaled_detection_land_where_full_resolution_puts_them(lfw_dir, detector):
    full = detector(max_side=None)
    downscaled = detector(max_side=600)  # photos below are 1500 px: detected at 600
    errors = []
    for name in ["Aaron_Eckhart", "Colin_Powell", "Serena_Williams", "Tony_Blair"]:
        photo = _lfw_photo(lfw_dir, name)
        big = np.asarray(Image.fromarray(photo).resize((1500, 1500), Image.Resampling.BICUBIC))
        (reference,) = full.detect(photo)[:1]
        (face,) = downscaled.detect(big)[:1]
        # In the 150-pixel photo's coordinates (pixel centres on integers in both).
        mapped = (face.landmarks5 + 0.5) / 10 - 0.5
        errors.append(np.abs(mapped - reference.landmarks5).max())
        assert face.box[2] > 500  # the box is in the big photo's pixels
    assert max(errors) < 2.0, errors


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("detector", DETECTORS)
def test_verification_accuracy_through_large_raw_photos_is_unchanged(lfw_dir, detector):
    """LFW pairs from raw photos: detected at full resolution (150 px, as before) vs the same photos
    enlarged 4x to 600 px, detected on a 300-px copy and warped from the 600-px photo: the path a
    12 MP photo takes with the default max_side of 1280, at a size a test can afford."""
    from mobiface_tf.data.sources import read_pairs
    from mobiface_tf.inference import FaceEmbedder

    pairs = [p for p in read_pairs(lfw_dir / "pairs.txt") if p.fold == 9]
    pairs = pairs[:40] + pairs[300:340]  # 40 genuine, 40 impostor pairs of fold 10
    reference = FaceEmbedder(face_policy="central", detector=detector(max_side=None))
    large = FaceEmbedder(face_policy="central", detector=detector(max_side=300))
    cache = {}

    def embeddings(relpath):
        if relpath not in cache:
            photo = np.asarray(Image.open(lfw_dir / "images" / relpath).convert("RGB"))
            big = np.asarray(Image.fromarray(photo).resize((600, 600), Image.Resampling.BICUBIC))
            cache[relpath] = (reference.embed(photo).embeddings[0], large.embed(big).embeddings[0])
        return cache[relpath]

    scores = np.array([[a @ b for a, b in zip(embeddings(p.relpath_a), embeddings(p.relpath_b))] for p in pairs])
    same = np.array([p.same for p in pairs])
    threshold = reference.threshold[0]
    accuracy = ((scores >= threshold) == same[:, None]).mean(axis=0)
    agreement = np.mean([a @ b for a, b in cache.values()])
    assert agreement > 0.97, agreement  # the same faces, embedded alike
    assert abs(accuracy[1] - accuracy[0]) <= 2 / len(pairs), accuracy  # within two pairs of 80
    assert accuracy[1] >= 0.9, accuracy
