"""InsightFace verification `.bin` files (lfw.bin, cfp_fp.bin, agedb_30.bin), loaded safely.

A `.bin` is a pickle of `(bins, issame_list)`: `bins` the encoded images (JPEG or PNG bytes),
two per pair, `issame_list` one bool per pair. Pickles can run arbitrary code, so they are read
with `SafeBinUnpickler`, which resolves no global except the few that plain NumPy arrays of
bools or bytes need, each replaced by a checking wrapper.
"""

import io
import pickle
from pathlib import Path

import numpy as np

from mobiface_tf.data.images import load_rgb
from mobiface_tf.errors import BadInputError, DataNotFoundError, ImageReadError

# NumPy dtypes a `.bin` may use: bool (issame arrays) and uint8 (images stored as arrays).
_ALLOWED_DTYPES = (np.dtype(np.bool_), np.dtype(np.uint8))
_ALLOWED_SPECS = ("b1", "|b1", "?", "u1", "|u1")


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class _NdarrayMarker:
    """Stands in for `numpy.ndarray`: `_reconstruct` accepts it; pickle cannot call it."""

    def __reduce__(self):
        raise _RefusedGlobal("the ndarray marker cannot be pickled")


_NDARRAY = _NdarrayMarker()


def _dtype(spec, align=False, copy=False):
    if isinstance(spec, bytes):  # Python 2 NumPy pickles read with encoding="bytes"
        spec = spec.decode("ascii", errors="replace")
    dtype = np.dtype(spec) if isinstance(spec, str) and spec in _ALLOWED_SPECS else None
    if dtype not in _ALLOWED_DTYPES:
        raise _RefusedGlobal(f"refuses NumPy dtype {spec!r}; only bool and uint8 arrays may appear")
    return dtype


def _reconstruct(subtype, shape, dtype_spec):
    # Only plain ndarrays; the array's contents arrive later through __setstate__, whose dtype
    # was itself built by `_dtype`, so object arrays (which could hold anything) cannot form.
    if subtype is not _NDARRAY:
        raise _RefusedGlobal(f"refuses to rebuild an array of type {subtype!r}")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype not in _ALLOWED_DTYPES or not isinstance(data, bytes):
        raise _RefusedGlobal(f"refuses NumPy scalar of dtype {dtype!r}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _frombuffer(buffer, dtype, shape, order):
    # Pickle protocol 5 stores contiguous arrays as `_frombuffer(bytes, dtype, shape, order)`.
    if not isinstance(dtype, np.dtype) or dtype not in _ALLOWED_DTYPES:
        raise _RefusedGlobal(f"refuses NumPy buffer of dtype {dtype!r}")
    if not isinstance(buffer, (bytes, bytearray)) or order not in ("C", "F"):
        raise _RefusedGlobal("refuses a NumPy buffer that is not plain bytes")
    return np.frombuffer(bytes(buffer), dtype=dtype).reshape(shape, order=order)


def _latin1_encode(text, encoding="latin1"):
    # Python 3 pickles bytes below protocol 3 as `_codecs.encode(text, "latin1")`.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise _RefusedGlobal(f"refuses _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_encode,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.multiarray", "scalar"): _scalar,
}


class SafeBinUnpickler(pickle.Unpickler):
    """An unpickler that admits only bytes, str, numbers, bools, lists, tuples and dicts, and
    NumPy bool/uint8 arrays; any other global (a function or class to call) is refused.

    `numpy.ndarray` is handed out only as a marker that `_reconstruct` checks for, so a pickle
    cannot call the real constructor with arguments of its choosing.
    """

    def find_class(self, module, name):
        """Resolve a global only from the short allow-list, else raise UnpicklingError."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedGlobal(
                f"refuses to load global {module}.{name}: a verification .bin may hold only "
                "image bytes and bools"
            ) from None

    def persistent_load(self, pid):
        """Refuse persistent ids: a `.bin` never uses them."""
        raise _RefusedGlobal("refuses a persistent id")


def load_verification_bin(path, image_size=112):
    """Load an InsightFace verification `.bin` without running code from it.

    Returns:
        (images, issame): `images` uint8 (2N, image_size, image_size, 3) RGB, pairs at rows
        2i and 2i+1; `issame` bool (N,).

    Raises:
        DataNotFoundError: the file is missing.
        BadInputError: the pickle asks for anything but the expected types (it is refused before
            any of it runs), or its structure, counts or images are not a verification set.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError("no such verification .bin file", path=path)
    with open(path, "rb") as handle:
        try:
            # encoding="bytes" keeps Python 2 `str` images (the original InsightFace files) as bytes.
            content = SafeBinUnpickler(handle, encoding="bytes").load()
        except _RefusedGlobal as error:
            raise BadInputError(f"unsafe pickle: {error}", path=path) from None
        except Exception as error:  # noqa: BLE001
            # Every global was refused above, so what remains is a malformed pickle; the pickle
            # machinery reports those with a long tail of types (OverflowError for a huge FRAME,
            # RecursionError, struct.error, ...), each a bad file, none a bug here.
            first = (str(error).strip().splitlines() or [""])[0]
            raise BadInputError(f"not a verification .bin pickle ({type(error).__name__}: {first})",
                                path=path) from None
    if not isinstance(content, (tuple, list)) or len(content) != 2:
        raise BadInputError("expected a pickled pair (bins, issame_list)", path=path)
    bins, issame = content
    if not isinstance(bins, (list, tuple)):
        raise BadInputError(f"bins is a {type(bins).__name__}, expected a list of image bytes", path=path)
    issame = _as_bool_vector(issame, path)
    if len(bins) != 2 * len(issame):
        raise BadInputError(
            f"{len(bins)} images for {len(issame)} pairs; expected exactly two images per pair",
            path=path,
        )
    images = np.empty((len(bins), image_size, image_size, 3), np.uint8)
    for index, encoded in enumerate(bins):
        if isinstance(encoded, np.ndarray) and encoded.dtype == np.uint8:
            encoded = encoded.tobytes()
        if not isinstance(encoded, (bytes, bytearray)):
            raise BadInputError(
                f"image {index} is a {type(encoded).__name__}, expected encoded image bytes", path=path
            )
        try:
            image = load_rgb(bytes(encoded))
        except ImageReadError as error:
            raise BadInputError(f"image {index}: {error}", path=path) from None
        if image.shape[:2] != (image_size, image_size):
            raise BadInputError(
                f"image {index} is {image.shape[1]}x{image.shape[0]}, expected aligned "
                f"{image_size}x{image_size} faces",
                path=path,
            )
        images[index] = image
    return images, issame


def _as_bool_vector(issame, path):
    if isinstance(issame, np.ndarray):
        if issame.dtype != np.bool_ or issame.ndim != 1:
            raise BadInputError(
                f"issame is a {issame.dtype} array of shape {issame.shape}, expected bool (N,)", path=path
            )
        return issame.copy()
    if not isinstance(issame, (list, tuple)) or not all(
        isinstance(value, (bool, np.bool_)) for value in issame
    ):
        raise BadInputError("issame_list must be a list of bools", path=path)
    return np.asarray(issame, dtype=bool)


def write_verification_bin(path, images, issame, image_format="JPEG", protocol=pickle.HIGHEST_PROTOCOL):
    """Write a verification `.bin` as InsightFace does: pickle `(list of encoded images, issame)`.

    Args:
        path: the file to create.
        images: uint8 (2N, H, W, 3) faces, pairs at rows 2i and 2i+1.
        issame: N bools.
        image_format: "JPEG" (InsightFace's choice) or "PNG" (lossless, for exact tests).
        protocol: pickle protocol (InsightFace's own files are protocol 2).
    """
    from PIL import Image

    images = np.asarray(images)
    issame = [bool(value) for value in issame]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise BadInputError(f"images must be uint8 (2N, H, W, 3), got {images.dtype} {images.shape}")
    if len(images) != 2 * len(issame):
        raise BadInputError(f"{len(images)} images for {len(issame)} pairs; need two per pair")
    bins = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=image_format, quality=95)
        bins.append(buffer.getvalue())
    with open(path, "wb") as handle:
        pickle.dump((bins, issame), handle, protocol=protocol)
