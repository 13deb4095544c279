"""load_rgb: every source type and image mode Pillow reads becomes upright RGB uint8."""

import io

import numpy as np
import pytest
from PIL import Image

from mobiface_tf.data.images import ALPHA_BACKGROUND, load_rgb
from mobiface_tf.errors import ImageReadError


def _gradient(height=24, width=32):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 7 % 256, y * 9 % 256, (x + y) * 3 % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize(
    "suffix, save_kwargs, exact",
    [
        (".png", {}, True),
        (".bmp", {}, True),
        (".webp", {"lossless": True}, True),
        (".jpg", {"quality": 95}, False),
    ],
)
def test_rgb_files_of_each_format(tmp_path, suffix, save_kwargs, exact):
    pixels = _gradient()
    path = tmp_path / f"face{suffix}"
    Image.fromarray(pixels).save(path, **save_kwargs)
    image = load_rgb(path)
    assert image.dtype == np.uint8 and image.shape == (24, 32, 3)
    if exact:
        np.testing.assert_array_equal(image, pixels)
    else:
        assert np.abs(image.astype(int) - pixels).mean() < 6


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = _gradient()[:, :, 0]
    Image.fromarray(gray, mode="L").save(tmp_path / "gray.png")
    image = load_rgb(str(tmp_path / "gray.png"))
    assert image.shape == (24, 32, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], gray)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    image = load_rgb(tmp_path / "cmyk.jpg")
    assert image.shape == (10, 20, 3)
    red, green, blue = image.reshape(-1, 3).mean(axis=0)
    assert red > 200 and green < 60 and blue < 60


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (255, 0, 0, 255)  # opaque red
    rgba[:, 4:] = (0, 0, 0, 0)  # fully transparent black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cutout.png")
    image = load_rgb(tmp_path / "cutout.png")
    np.testing.assert_array_equal(image[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(image[0, 7], ALPHA_BACKGROUND)


def test_palette_gif_reads_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), colour).convert("P") for colour in ((0, 0, 255), (0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    with Image.open(tmp_path / "anim.gif") as check:
        assert check.n_frames == 2
    image = load_rgb(tmp_path / "anim.gif")
    assert image.shape == (16, 16, 3)
    assert image[..., 2].min() > 200 and image[..., 1].max() < 50


def test_sixteen_bit_grayscale_is_scaled(tmp_path):
    values = np.array([[0, 257 * 100, 65535, 257 * 200]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")
    image = load_rgb(tmp_path / "deep.png")
    np.testing.assert_array_equal(image[0, :, 0], [0, 100, 255, 200])
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_exif_orientation_is_applied(tmp_path):
    # A 30 wide x 10 high landscape, marked "rotate 90 CW to display" (orientation 6).
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :5] = 255  # white stripe on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    image = load_rgb(tmp_path / "phone.jpg")
    assert image.shape == (30, 10, 3)  # displayed upright: portrait
    assert image[:5].mean() > 200 and image[-5:].mean() < 50  # the stripe is now on top


def test_bytes_pil_and_array_sources_agree(tmp_path):
    pixels = _gradient()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    np.testing.assert_array_equal(load_rgb(buffer.getvalue()), pixels)
    np.testing.assert_array_equal(load_rgb(Image.fromarray(pixels)), pixels)
    assert load_rgb(pixels) is pixels  # already RGB uint8: no copy
    np.testing.assert_array_equal(load_rgb(pixels.astype(np.float32)), pixels)
    np.testing.assert_array_equal(load_rgb(pixels[:, :, :1]), np.repeat(pixels[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(load_rgb(pixels.astype(np.uint16) * 257), pixels)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nobody.jpg"
    with pytest.raises(ImageReadError, match="nobody.jpg: no such file"):
        load_rgb(missing)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageReadError, match="folder"):
        load_rgb(tmp_path)


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a JPEG")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not an image"):
        load_rgb(path)


def test_truncated_jpeg_is_reported(tmp_path):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: truncated"):
        load_rgb(path)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 4, 3), 300, np.int32), "outside 0..255"),
    ],
)
def test_unusable_arrays_are_refused(array, message):
    with pytest.raises(ImageReadError, match=message):
        load_rgb(array)


def test_unknown_source_type_is_refused():
    with pytest.raises(ImageReadError, match="int"):
        load_rgb(42)
