"""What a face detector returns (`Face`), what both detectors share (`MtcnnDetector`), and the face policies.

Detector-independent and TensorFlow-free: `data/detect.py` (mtcnn on TensorFlow) and
`data/detect_lite.py` (the same networks on LiteRT) are both `MtcnnDetector`s, with the same
checked settings and large photos detected on a downscaled copy; both return `Face` lists, and
every caller picks faces from them with `select_faces`.
"""

import dataclasses

import numpy as np
from PIL import Image

from mobiface_tf.data.images import load_rgb
from mobiface_tf.errors import BadInputError, MultipleFacesError, NoFaceError

FACE_POLICIES = ("largest", "central", "all", "single")
# Photos whose longer side exceeds this are detected on a downscaled copy (the landmarks are
# mapped back, and the face is then warped from the full-resolution photo). MTCNN's cost grows
# with the pixel count: a 12 MP photo took 7.6 CPU-s and 2.3 GB, an 8000x8000 one 9 GB. At 1280
# pixels a face needs to be about 1/60 of the photo's longer side (min_face_size 20 at that
# scale) to be found: every portrait or group photo, not a crowd in the distance.
DETECT_MAX_SIDE = 1280


# eq=False: faces compare by identity (value equality over arrays has no single truth value).
@dataclasses.dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes:
        box: (4,) float32 `(x, y, w, h)` in image pixels, clipped to the image.
        score: the detector's confidence in 0..1.
        landmarks5: (5, 2) float32 `(x, y)` in template order: eye on the image's left, eye on
            the image's right, nose, mouth corner on the image's left, on the image's right.
    """

    box: np.ndarray
    score: float
    landmarks5: np.ndarray

    @property
    def area(self):
        """Box area in square pixels."""
        return float(self.box[2] * self.box[3])

    @property
    def center(self):
        """Box centre `(x, y)` in image pixels."""
        return (float(self.box[0] + self.box[2] / 2), float(self.box[1] + self.box[3] / 2))


def box_iou(box_a, box_b):
    """Intersection over union of two `(x, y, w, h)` boxes (`Face.box`); 0 when both are empty."""
    x1, y1 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x2, y2 = min(box_a[0] + box_a[2], box_b[0] + box_b[2]), min(box_a[1] + box_a[3], box_b[1] + box_b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = box_a[2] * box_a[3] + box_b[2] * box_b[3] - inter
    return float(inter / union) if union > 0 else 0.0


class MtcnnDetector:
    """What both MTCNN detectors share: their settings, checked, and `detect` with large photos
    detected on a downscaled copy. `FaceDetector` (mtcnn on TensorFlow) and `LiteFaceDetector`
    (the same networks on LiteRT) add only the full-resolution pass, `_detect_full(image) -> [Face]`.

    Args:
        min_face_size: smallest face side, in pixels, the image pyramid looks for (>= 4).
        thresholds: confidence thresholds of the three stages (P-Net, R-Net, O-Net), each in 0..1.
        scale_factor: image pyramid step, in (0, 1).
        max_side: photos with a longer side above this many pixels are detected on a copy
            downscaled to it; boxes and landmarks come back in the photo's own coordinates.
            None detects at full resolution whatever the size; else >= 4 x min_face_size.

    Raises:
        BadInputError: naming the setting and the value received.
    """

    def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.8), scale_factor=0.709, max_side=DETECT_MAX_SIDE):
        if not min_face_size >= 4:
            raise BadInputError(f"min_face_size must be >= 4 pixels, got {min_face_size!r}")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise BadInputError(f"thresholds must be three values in 0..1, got {thresholds!r}")
        if not 0.0 < scale_factor < 1.0:
            raise BadInputError(f"scale_factor must be in (0, 1), got {scale_factor!r}")
        if max_side is not None and not max_side >= 4 * min_face_size:
            raise BadInputError(f"max_side must be None or >= 4 x min_face_size, got {max_side!r}")
        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.max_side = max_side

    def detect(self, image_rgb):
        """All faces in an image, highest score first.

        Args:
            image_rgb: an RGB uint8 (H, W, 3) array, or anything `load_rgb` accepts (a path is
                read with its EXIF orientation applied).

        Returns:
            list of `Face`, possibly empty, in the coordinates of `image_rgb`; boxes clipped to it.
        """
        image = load_rgb(image_rgb)
        small, scale = downscale_for_detection(image, self.max_side)
        faces = self._detect_full(small)
        if scale != (1.0, 1.0):
            faces = [_face_in_photo(face, scale, image.shape) for face in faces]
        return sorted(faces, key=lambda face: -face.score)

    def _detect_full(self, image):
        raise NotImplementedError(f"{type(self).__name__} does not run a detector")


def downscale_for_detection(image, max_side):
    """`(copy, (sx, sy))`: `image` reduced so its longer side is `max_side` (antialiased), and the
    factors from its pixels to the original's; the image itself and (1, 1) when small enough."""
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return image, (1.0, 1.0)
    ratio = max_side / max(height, width)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    # reducing_gap: Pillow first box-reduces by an integer factor, then resamples: fast and
    # antialiased even for an 8000x8000 photo.
    small = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(small), (width / size[0], height / size[1])


def _face_in_photo(face, scale, shape):
    """A `Face` found on the downscaled copy, in the photo's pixels (`scale`: copy -> photo factors)."""
    factors = np.asarray(scale)
    # Pixel centres sit on integers in both images: x_photo = (x_copy + 0.5) * s - 0.5.
    landmarks5 = (face.landmarks5.astype(np.float64) + 0.5) * factors - 0.5
    box = face.box.astype(np.float64)
    box = np.r_[(box[:2] + 0.5) * factors - 0.5, box[2:] * factors]
    height, width = shape[:2]
    x0, y0 = np.clip(box[:2], 0, [width, height])
    x1, y1 = np.clip(box[:2] + box[2:], 0, [width, height])
    box = np.array([x0, y0, x1 - x0, y1 - y0])
    return Face(box=box.astype(np.float32), score=face.score, landmarks5=landmarks5.astype(np.float32))


def select_faces(faces, policy, image_shape, path=None):
    """Pick the faces to use from a detection, by a named policy.

    Policies:
        "largest": the face with the largest box (ties: higher score). The default for
            photo collections, where the subject is usually the biggest face.
        "central": the face whose box centre is nearest the image centre (ties: larger box);
            for crops centred on the subject, such as LFW.
        "all": every face, largest first.
        "single": exactly one face; several raise `MultipleFacesError`.

    Args:
        faces: `Face` list from a detector's `detect`.
        policy: one of `FACE_POLICIES`.
        image_shape: the image's shape, `(H, W, ...)`.
        path: the image's name for error messages (optional).

    Returns:
        list of `Face`: one face, or all of them for "all".

    Raises:
        NoFaceError: `faces` is empty.
        MultipleFacesError: policy "single" and more than one face.
    """
    if policy not in FACE_POLICIES:
        raise BadInputError(f"unknown face policy {policy!r}; choose one of {', '.join(FACE_POLICIES)}")
    if not faces:
        raise NoFaceError("no face found", path=path)
    by_size = sorted(faces, key=lambda face: (-face.area, -face.score))
    if policy == "all":
        return by_size
    if policy == "largest":
        return by_size[:1]
    if policy == "single":
        if len(faces) > 1:
            raise MultipleFacesError(f"{len(faces)} faces found, policy 'single' wants one", path=path)
        return list(faces)
    height, width = image_shape[0], image_shape[1]
    centre = np.array([width / 2.0, height / 2.0])

    def distance(face):
        return float(np.linalg.norm(np.array(face.center) - centre))

    return [min(by_size, key=distance)]
