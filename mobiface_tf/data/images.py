"""Reading any image Pillow understands into one form: an upright RGB uint8 array (H, W, 3).

This module also holds the one rule for what counts as an image, used by every command (folder
listings, conversions, reading): a file that Pillow decodes by itself as one of
`IMAGE_FORMATS`, recognised by its content, never by its name, so `.gif`, `.tif` and files
without an extension work, and a `.jpg` that is really a text file does not. Formats Pillow can
only identify, or decodes through an outside program (EPS runs Ghostscript), are not images here.
"""

import contextlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mobiface_tf.errors import ImageReadError

# Transparent pixels become white: a cut-out face on white looks like a studio photo, whereas
# dropping alpha exposes whatever colour the editor left under the transparency (often black
# or garbage), and the detector would see that.
ALPHA_BACKGROUND = (255, 255, 255)

# Still-image formats Pillow decodes by itself (AVIF where this Pillow has it). Each has a
# signature, so a random file is not mistaken for one. MPO is the JPEG variant some phones write.
IMAGE_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "TIFF", "WEBP", "JPEG2000", "PPM", "QOI", "AVIF")

# The file-name ending a format is written with (conversions keep the bytes and pick the name).
FORMAT_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp",
                     "TIFF": ".tif", "WEBP": ".webp", "JPEG2000": ".jp2", "PPM": ".ppm", "QOI": ".qoi",
                     "AVIF": ".avif"}

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ORIENTATION = 0x0112  # the EXIF tag
_NOT_AN_IMAGE = "not an image file mobiface reads (JPEG, PNG, GIF, BMP, TIFF, WebP, ...; recognised by content)"


def readable_formats():
    """`IMAGE_FORMATS` that this installation of Pillow can open."""
    Image.init()
    return tuple(name for name in IMAGE_FORMATS if name in Image.OPEN)


def image_format(source):
    """The format of an image file or encoded bytes, read from its first bytes (nothing decoded).

    Args:
        source: a path (str or `os.PathLike`) or encoded bytes.

    Returns:
        The Pillow format name, one of `IMAGE_FORMATS`.

    Raises:
        ImageReadError: missing, a folder, unreadable, or not an image by the rule above.
    """
    with _opened(source, damaged="unreadable") as image:
        return image.format


def verify_image(source):
    """Decode an image completely (JPEGs at 1/8 scale: every byte read, little memory) to prove it whole.

    Returns:
        The Pillow format name.

    Raises:
        ImageReadError: not an image, or truncated or corrupt.
    """
    with _opened(source, damaged="truncated or corrupt image") as image:
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
        return image.format


@contextlib.contextmanager
def _opened(source, damaged):
    """Open `source` (path or bytes) by the image rule; whatever Pillow raises while it is open
    becomes one `ImageReadError` naming the file: not an image, too large, or `damaged (reason)`."""
    fp, name = _file_or_buffer(source)
    try:
        with Image.open(fp, formats=readable_formats()) as image:
            yield image
    except UnidentifiedImageError:
        raise ImageReadError(_NOT_AN_IMAGE, path=name) from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"image too large to decode safely ({error})", path=name) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow reports truncated or corrupt data as OSError ("image file is truncated ...").
        raise ImageReadError(f"{damaged} ({_reason(error)})", path=name) from None


def _file_or_buffer(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), "<bytes>"
    path = Path(source)
    if path.is_dir():
        raise ImageReadError("is a folder, not an image file", path=path)
    if not path.exists():
        raise ImageReadError("no such file", path=path)
    return path, path


def _reason(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def load_rgb(source):
    """Read an image as an upright RGB uint8 array of shape (H, W, 3).

    Args:
        source: a path (str or `os.PathLike`), encoded file bytes, a `PIL.Image.Image`, or a
            NumPy array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); arrays are uint8, uint16
            (scaled to 8 bits) or float in 0..255.

    Conversions: the EXIF orientation is applied (phone photos are stored sideways); the first
    frame of an animation is used; grayscale, palette, CMYK and YCbCr become RGB; alpha is
    composited on white (`ALPHA_BACKGROUND`); 16-bit images are scaled to 8 bits (x / 257).

    Raises:
        ImageReadError: naming the file and why: missing, not an image, truncated or corrupt,
            or an array of an unusable shape or type.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, getattr(source, "filename", "") or "<PIL image>")
    if isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        with _opened(source, damaged="truncated or corrupt image") as image:
            image.load()
            return _pil_to_rgb(image, image.filename or "<bytes>")
    raise ImageReadError(
        f"cannot read an image from a {type(source).__name__}; expected a path, bytes, "
        "a PIL image or a NumPy array"
    )


def _pil_to_rgb(image, name):
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        if image.getexif().get(_ORIENTATION, 1) not in (0, 1):
            # Only then: exif_transpose copies the whole image even when there is nothing to do.
            image = ImageOps.exif_transpose(image)
        mode = image.mode
        if mode in _SIXTEEN_BIT_MODES:
            return _array_to_rgb(np.asarray(image), sixteen_bit=True, name=name)
        if mode == "F":
            return _array_to_rgb(np.asarray(image), name=name)
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode in ("PA", "LA", "La", "RGBa"):
            image = image.convert("RGBA")
        if image.mode == "RGBA":
            return _composite_on_background(np.asarray(image))
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.array(image, dtype=np.uint8)
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"truncated or corrupt image ({error})", path=name) from None


def _array_to_rgb(array, sixteen_bit=False, name="<array>"):
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"array of shape {array.shape} is not an image; expected (H, W), (H, W, 1), "
            "(H, W, 3) or (H, W, 4)",
            path=name,
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageReadError(f"empty image of shape {array.shape}", path=name)
    if sixteen_bit:
        array = np.clip(array, 0, 65535).astype(np.uint16)
    array = _to_uint8(array, name)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        return _composite_on_background(array)
    return array


def _to_uint8(array, name):
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        # 16-bit data: 65535 maps to 255 exactly.
        return np.round(array.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ImageReadError(
                f"{array.dtype} pixels in {array.min()}..{array.max()} are outside 0..255; "
                "pass uint16 for 16-bit data",
                path=name,
            )
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ImageReadError("float pixels contain NaN or infinity", path=name)
        return np.clip(np.round(array), 0, 255).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {array.dtype}", path=name)


def _composite_on_background(rgba):
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    background = np.asarray(ALPHA_BACKGROUND, np.float32)
    rgb = rgba[:, :, :3].astype(np.float32) * alpha + background * (1.0 - alpha)
    return np.round(rgb).astype(np.uint8)
