"""Similarity transform and warp: landmarks land on the 112x112 template, in points and in pixels."""

import numpy as np
import pytest

from mobiface_tf.data.align import (
    TEMPLATE_112,
    align_face,
    alignment_matrix,
    similarity_transform,
    template,
    transform_points,
)
from mobiface_tf.errors import BadInputError


def _similarity(angle, scale, shift):
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([scale * rotation, np.asarray(shift, float)[:, None]])


# (angle in radians, scale, shift): faces tilted both ways, small and large, anywhere.
CASES = [(0.0, 1.0, (0, 0)), (0.35, 1.8, (70, 30)), (-0.5, 0.6, (20, 90)), (0.1, 3.0, (5, 12))]


@pytest.mark.parametrize("angle, scale, shift", CASES)
def test_similarity_transform_recovers_a_known_transform(angle, scale, shift):
    truth = _similarity(angle, scale, shift)
    image_points = transform_points(truth, TEMPLATE_112)
    recovered = similarity_transform(TEMPLATE_112, image_points)
    np.testing.assert_allclose(recovered, truth, atol=1e-4)
    back = transform_points(alignment_matrix(image_points), image_points)
    np.testing.assert_allclose(back, TEMPLATE_112, atol=1e-3)


def test_noisy_landmarks_land_within_a_pixel():
    rng = np.random.default_rng(7)
    truth = _similarity(0.2, 1.5, (40, 25))
    image_points = transform_points(truth, TEMPLATE_112) + rng.normal(0, 0.5, (5, 2))
    warped = transform_points(alignment_matrix(image_points), image_points)
    assert np.abs(warped - TEMPLATE_112).max() < 1.0


def test_mirrored_points_are_not_reflected():
    mirrored = TEMPLATE_112 * np.array([-1.0, 1.0]) + np.array([112.0, 0.0])
    matrix = similarity_transform(mirrored, TEMPLATE_112)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_template_scales_with_crop_size():
    np.testing.assert_allclose(template(224), TEMPLATE_112 * 2, rtol=1e-6)
    with pytest.raises(BadInputError, match="size"):
        template(0)


def _dot_image(points, height=360, width=340):
    image = np.zeros((height, width, 3), np.uint8)
    for x, y in np.round(points).astype(int):
        image[y - 2 : y + 3, x - 2 : x + 3] = 255
    return image


def _dot_centroids(crop, expected):
    """Intensity centroid of the blob around each expected point (13x13 window)."""
    gray = crop[:, :, 0].astype(np.float64)
    found = []
    for x, y in np.round(expected).astype(int):
        window = gray[y - 6 : y + 7, x - 6 : x + 7]
        ys, xs = np.mgrid[y - 6 : y + 7, x - 6 : x + 7]
        assert window.sum() > 0, f"no dot near ({x}, {y})"
        found.append(((window * xs).sum() / window.sum(), (window * ys).sum() / window.sum()))
    return np.array(found)


@pytest.mark.parametrize("angle, scale, shift", CASES[1:])
def test_painted_dots_land_on_the_template_after_warp(angle, scale, shift):
    image_points = np.round(transform_points(_similarity(angle, scale, shift), TEMPLATE_112))
    crop = align_face(_dot_image(image_points), image_points)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    where_dots_should_be = transform_points(alignment_matrix(image_points), image_points)
    np.testing.assert_allclose(where_dots_should_be, TEMPLATE_112, atol=1.0)
    # A half-pixel convention error would show here as a 0.5 px shift.
    np.testing.assert_allclose(_dot_centroids(crop, where_dots_should_be), where_dots_should_be, atol=0.25)
    np.testing.assert_allclose(_dot_centroids(crop, TEMPLATE_112), TEMPLATE_112, atol=1.0)


def test_other_crop_sizes_follow_the_scaled_template():
    image_points = np.round(transform_points(_similarity(0.3, 1.7, (50, 30)), TEMPLATE_112))
    crop = align_face(_dot_image(image_points), image_points, size=224)
    assert crop.shape == (224, 224, 3)
    np.testing.assert_allclose(_dot_centroids(crop, template(224)), template(224), atol=1.5)


def test_outside_the_image_is_black():
    image = np.full((120, 120, 3), 200, np.uint8)
    # A face in the top-left corner: the crop reaches past the image edge.
    points = TEMPLATE_112 * 0.5 - 20
    crop = align_face(image, points)
    assert crop[0, 0].tolist() == [0, 0, 0]
    assert crop[-1, -1].tolist() == [200, 200, 200]


@pytest.mark.parametrize(
    "landmarks, message",
    [
        (np.full((5, 2), 40.0), "degenerate"),
        (np.where(np.eye(5, 2) > 0, np.nan, TEMPLATE_112), "NaN"),
        (np.full((5, 2), np.inf), "NaN or infinity"),
        (TEMPLATE_112[:4], r"shape \(5, 2\)"),
        (TEMPLATE_112.ravel(), "shape"),
        ([["a", "b"]] * 5, "not numbers"),
    ],
)
def test_bad_landmarks_raise_bad_input(landmarks, message):
    with pytest.raises(BadInputError, match=message):
        align_face(np.zeros((50, 50, 3), np.uint8), landmarks)


@pytest.mark.data
def test_lfw_crop_from_file_landmarks_is_a_centred_face(lfw_dir):
    from mobiface_tf.data.images import load_rgb

    line = next(
        row for row in (lfw_dir / "landmarks_5pt.txt").read_text().splitlines() if not row.startswith("#")
    )
    relpath, *numbers = line.split("\t")
    points = np.array(numbers, float).reshape(5, 2)
    image = load_rgb(lfw_dir / "images" / relpath)
    crop = align_face(image, points)
    assert crop.shape == (112, 112, 3)
    # The warp keeps most of the face inside the 150x150 photo: little black border.
    assert (crop.sum(axis=2) == 0).mean() < 0.05
