"""The 112x112 five-point face template and the similarity warp that maps a face onto it."""

import numpy as np
from PIL import Image

from mobiface_tf.data.images import load_rgb
from mobiface_tf.errors import BadInputError

# The usual insightface/ArcFace template, (x, y) in a 112x112 crop with pixel centres on
# integers: eye on the image's left, eye on the image's right, nose tip, mouth corner on the
# image's left, mouth corner on the image's right.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

# Landmarks spanning less than this (RMS distance to their centroid, in pixels) describe no
# usable face; the transform would blow one pixel up to the whole crop.
_MIN_LANDMARK_SPREAD = 1.0


def similarity_transform(src, dst):
    """Least-squares similarity transform (rotation, uniform scale, translation) from src to dst.

    Umeyama's closed form, without reflection: a mirrored point set gets the best rotation,
    never a flip.

    Args:
        src: (N, 2) points, N >= 2, e.g. detected landmarks in image coordinates.
        dst: (N, 2) target points, e.g. `TEMPLATE_112`.

    Returns:
        (2, 3) float64 matrix `M` with `dst ~= src @ M[:, :2].T + M[:, 2]`.

    Raises:
        BadInputError: shapes differ, values are not finite, or `src` has no spread.

    Reference: Umeyama, "Least-squares estimation of transformation parameters between two
    point patterns", IEEE TPAMI 13(4), 1991.
    """
    src = _check_points(src, "source points")
    dst = _check_points(dst, "target points")
    if src.shape != dst.shape:
        raise BadInputError(f"source points {src.shape} and target points {dst.shape} differ in shape")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = np.mean(np.sum(src_c**2, axis=1))
    if not np.sqrt(src_var) >= _MIN_LANDMARK_SPREAD:
        raise BadInputError(
            f"landmarks are degenerate: they span {np.sqrt(src_var):.3g} px "
            f"(need >= {_MIN_LANDMARK_SPREAD} px): {src.tolist()}"
        )
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float(np.sum(singular * sign) / src_var)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def transform_points(matrix, points):
    """Apply a (2, 3) affine matrix to (N, 2) points; returns (N, 2) float64."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def template(size=112):
    """The five-point template for a square crop of `size` pixels (`TEMPLATE_112` scaled)."""
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise BadInputError(f"crop size must be an integer >= 8, got {size!r}")
    return TEMPLATE_112.astype(np.float64) * (size / 112.0)


def alignment_matrix(landmarks5, size=112):
    """The (2, 3) matrix mapping image coordinates of `landmarks5` onto the `size` template."""
    return similarity_transform(_check_landmarks(landmarks5), template(size))


def align_face(image_rgb, landmarks5, size=112):
    """Warp a face onto the five-point template: a (size, size, 3) uint8 RGB crop.

    Args:
        image_rgb: the whole image, anything `load_rgb` accepts (normally an RGB uint8 array).
        landmarks5: (5, 2) points in image coordinates, pixel centres on integers, in template
            order: eye on the image's left, eye on the image's right, nose, mouth corner on the
            image's left, mouth corner on the image's right.
        size: crop side; 112 gives the contract's aligned face.

    Bilinear interpolation (Pillow's C warp: fast, no extra dependency); pixels from outside
    the image are black.

    Raises:
        BadInputError: landmarks of the wrong shape, not finite, or degenerate.
    """
    matrix = alignment_matrix(landmarks5, size)
    image = load_rgb(image_rgb)
    return warp_affine(image, matrix, size)


def warp_affine(image_rgb, matrix, size):
    """Warp an RGB uint8 image by the forward (2, 3) `matrix` into a (size, size, 3) crop.

    Only the part of the image the crop samples is handed to Pillow (a few pixels of margin for
    bilinear interpolation), so warping a face out of a 64 MP photo costs what it costs in a
    small one; the result is the same as warping the whole image.
    """
    region = _sampled_region(image_rgb, np.asarray(matrix, dtype=np.float64), size)
    if region is None:  # the crop lies wholly outside the image: all black
        return np.zeros((size, size, 3), np.uint8)
    image_rgb, matrix = region
    inverse = _invert_affine(matrix)
    # Pillow samples pixel centres at i + 0.5; the template (like OpenCV) puts them at i.
    # Shift in and out by half a pixel so a landmark lands exactly on its template point.
    a, b, c = inverse[0]
    d, e, f = inverse[1]
    pillow_coefficients = (
        a, b, c + 0.5 - 0.5 * (a + b),
        d, e, f + 0.5 - 0.5 * (d + e),
    )
    warped = Image.fromarray(image_rgb).transform(
        (size, size), Image.Transform.AFFINE, pillow_coefficients, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(warped, dtype=np.uint8)


def _sampled_region(image, matrix, size, margin=2):
    """(the sub-image the warp reads, the matrix re-based onto it), or None when it reads nothing."""
    height, width = image.shape[:2]
    inverse = _invert_affine(matrix)
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    source = transform_points(inverse, corners)
    left, top = np.floor(source.min(axis=0)).astype(int) - margin
    right, bottom = np.ceil(source.max(axis=0)).astype(int) + margin + 1
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width), min(bottom, height)
    if right <= left or bottom <= top:
        return None
    if (left, top, right, bottom) == (0, 0, width, height):
        return image, matrix
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([left, top], dtype=np.float64)
    return np.ascontiguousarray(image[top:bottom, left:right]), shifted


def _invert_affine(matrix):
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def _check_landmarks(landmarks5):
    points = _check_points(landmarks5, "landmarks")
    if points.shape != (5, 2):
        raise BadInputError(f"landmarks must have shape (5, 2), got {points.shape}")
    return points


def _check_points(points, what):
    try:
        points = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BadInputError(f"{what} are not numbers: {error}") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise BadInputError(f"{what} must have shape (N >= 2, 2), got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise BadInputError(f"{what} contain NaN or infinity: {points.tolist()}")
    return points
