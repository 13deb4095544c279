"""Face detection without TensorFlow: the `mtcnn` package's three networks on LiteRT, the rest in NumPy.

`LiteFaceDetector` is a drop-in for `data/detect.py`'s `FaceDetector`: the same settings, the
same `detect(image) -> [Face]`, the same numbers. The networks are mtcnn 1.0's own P-, R- and
O-Net converted to `.tflite` (`mobiface_tf/assets/mtcnn/`, see its README for provenance and the
command that regenerates them). Around them this module repeats, step for step, what mtcnn 1.0
does in TensorFlow and NumPy, because the faces found depend on every detail:

- pixels normalized to (x - 127.5) / 128;
- the pyramid: scales (12 / min_face_size) * scale_factor**k, level sizes truncated, each level
  resized from the full image by area averaging (TensorFlow's `resize_area`);
- P-Net cells above the first threshold -> boxes regressed in level pixels, divided by the scale;
  non-maximum suppression per level (IoU 0.5) and across levels (0.7); boxes made square;
- R-Net and O-Net crops taken with bilinear sampling exactly as `tf.image.crop_and_resize`
  does with mtcnn's box normalization (outside the image: 0 after normalization);
- box regression by (w + 1, h + 1), landmarks relative to the box before regression, NMS
  union 0.7 after R-Net and "min" 0.7 after O-Net; boxes clipped to the image at the end.

mtcnn's NMS is not the textbook greedy one: a box is dropped when any higher-scored box
overlaps it beyond the threshold, even one that was itself dropped. It is repeated here as is.

Imports only NumPy, Pillow (through `load_rgb`) and `ai_edge_litert`.
"""

import collections
from pathlib import Path

import numpy as np

from mobiface_tf.data.faces import DETECT_MAX_SIDE, Face, MtcnnDetector
from mobiface_tf.errors import BadInputError, ModelLoadError
from mobiface_tf.quiet import native_stderr_silenced

# The three networks, shipped as package data (see assets/mtcnn/README.md).
MTCNN_ASSETS = Path(__file__).resolve().parents[1] / "assets" / "mtcnn"
NETWORK_FILES = {"pnet": "pnet.tflite", "rnet": "rnet.tflite", "onet": "onet.tflite"}

# mtcnn 1.0's fixed settings (StagePNet/StageRNet/StageONet defaults and utils/bboxes.py).
PNET_CELL = 12  # P-Net's window: also the smallest pyramid level it can run on
PNET_STRIDE = 2
NMS_PNET_LEVEL = 0.5
NMS_PNET_ALL = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7
RNET_SIZE = 24
ONET_SIZE = 48

# name -> (input values the cached interpreters may hold, largest crop batch per invoke). P-Net's
# budget keeps every level of one 640x480 pyramid (~660K input values; ~50 MB of interpreter
# memory measured); R- and O-Net keep one interpreter per power-of-two batch.
_NETWORK_RUNS = {"pnet": (1_000_000, None), "rnet": (128 * RNET_SIZE * RNET_SIZE * 3, 64),
                 "onet": (64 * ONET_SIZE * ONET_SIZE * 3, 32)}

# Output tensors are told apart by their last dimension, the same in every shape LiteRT gives.
_OUTPUT_BY_WIDTH = {4: "box_regression", 2: "face_probability", 10: "landmarks"}


class LiteFaceDetector(MtcnnDetector):
    """MTCNN face detector on LiteRT: the mtcnn package's networks without TensorFlow.

    Args:
        min_face_size, thresholds, scale_factor, max_side: as `FaceDetector` (`MtcnnDetector`:
            photos larger than 1280 pixels are detected on a downscaled copy).
        num_threads: CPU threads of each LiteRT interpreter (XNNPACK). 1 suits the small R- and
            O-Net and lets callers run one detector per core.
        model_dir: folder holding pnet.tflite, rnet.tflite and onet.tflite (default: the
            bundled `MTCNN_ASSETS`).

    The interpreters are created on the first `detect`. A detector is not thread-safe (LiteRT
    interpreters are not): give each thread or process its own.
    """

    def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.8), scale_factor=0.709, max_side=DETECT_MAX_SIDE,
                 num_threads=1, model_dir=None):
        super().__init__(min_face_size, thresholds, scale_factor, max_side)
        if not isinstance(num_threads, int) or num_threads < 1:
            raise BadInputError(f"num_threads must be a positive integer, got {num_threads!r}")
        self.num_threads = num_threads
        self.model_dir = Path(model_dir) if model_dir is not None else MTCNN_ASSETS
        self._networks = None

    def _load(self):
        if self._networks is None:
            self._networks = {
                name: _Network(self.model_dir / NETWORK_FILES[name], self.num_threads, budget, max_batch)
                for name, (budget, max_batch) in _NETWORK_RUNS.items()
            }
        return self._networks

    def _detect_full(self, image):
        networks = self._load()
        boxes = self._stage_pnet(image, networks["pnet"])
        if len(boxes):
            boxes = self._stage_rnet(image, boxes, networks["rnet"])
        if len(boxes):
            boxes = self._stage_onet(image, boxes, networks["onet"])
        return [_face_from_row(row) for row in _clip_to_image(boxes, image.shape)]

    # -- the three stages, as mtcnn 1.0's StagePNet, StageRNet and StageONet -----------------
    # Box rows: x1, y1, x2, y2, score (mtcnn's rows without the image index), then, after O-Net,
    # the five landmark x's and five y's.

    def _stage_pnet(self, image, pnet):
        height, width = image.shape[:2]
        resizer = _AreaResizer(image)
        per_level = []
        for scale in pyramid_scales(height, width, self.min_face_size, self.scale_factor):
            # mtcnn sizes each level as int(side * scale) (TensorFlow truncates float sizes).
            level_h, level_w = (np.asarray([height, width]) * scale).astype(int)
            if min(level_h, level_w) < PNET_CELL:
                # Too small for one P-Net window; mtcnn's TensorFlow call would fail here and
                # return no face at all, so skipping only differs where mtcnn has no answer.
                continue
            level = _normalize(resizer.resize(level_h, level_w))
            regression, probability = pnet.run(level[None], ("box_regression", "face_probability"))
            boxes = _pnet_boxes(regression[0], probability[0, :, :, 1], self.thresholds[0])
            boxes[:, :4] /= scale
            per_level.append(boxes[mtcnn_nms(boxes, NMS_PNET_LEVEL, "union")])
        if not per_level:
            return np.empty((0, 5))
        boxes = _sort_by_score(np.concatenate(per_level, axis=0))
        boxes = boxes[mtcnn_nms(boxes, NMS_PNET_ALL, "union")]
        return _square(boxes)

    def _stage_rnet(self, image, boxes, rnet):
        crops = crop_and_resize(image, boxes[:, :4], RNET_SIZE)
        regression, probability = rnet.run(crops, ("box_regression", "face_probability"))
        boxes = boxes.copy()
        boxes[:, 4] = probability[:, 1]
        boxes = _regress(boxes, regression)
        boxes = boxes[boxes[:, 4] > self.thresholds[1]]
        boxes = _sort_by_score(boxes)
        boxes = boxes[mtcnn_nms(boxes, NMS_RNET, "union")]
        return _square(boxes)

    def _stage_onet(self, image, boxes, onet):
        crops = crop_and_resize(image, boxes[:, :4], ONET_SIZE)
        regression, landmarks, probability = onet.run(crops, ("box_regression", "landmarks", "face_probability"))
        # Landmarks are fractions of the box O-Net saw (before its regression), mtcnn's +1/-1 kept.
        w = boxes[:, 2:3] - boxes[:, 0:1] + 1
        h = boxes[:, 3:4] - boxes[:, 1:2] + 1
        landmark_x = w * landmarks[:, 0:5] + boxes[:, 0:1] - 1
        landmark_y = h * landmarks[:, 5:10] + boxes[:, 1:2] - 1
        boxes = boxes.copy()
        boxes[:, 4] = probability[:, 1]
        boxes = _regress(boxes, regression)
        boxes = np.concatenate([boxes, landmark_x, landmark_y], axis=1)
        boxes = boxes[boxes[:, 4] > self.thresholds[2]]
        boxes = _sort_by_score(boxes)
        return boxes[mtcnn_nms(boxes, NMS_ONET, "min")]


def pyramid_scales(height, width, min_face_size, scale_factor):
    """mtcnn 1.0's pyramid scales (`build_scale_pyramid`), largest first, as a float64 array."""
    min_side = min(width, height)
    count = round(-((np.log(min_side / PNET_CELL) / np.log(scale_factor)) + 1))
    return (PNET_CELL / min_face_size) * scale_factor ** np.arange(count)


def resize_area(image, out_height, out_width):
    """`image` (H, W, C) uint8 resized to (out_height, out_width, C) float32 as TensorFlow's `resize_area`."""
    return _AreaResizer(image).resize(out_height, out_width)


class _AreaResizer:
    """Area resizing of one uint8 image to many sizes, computed as TensorFlow's `resize_area` does.

    Output pixel i averages input [i * s, (i + 1) * s), s = in / out in float32, partial pixels
    weighted by the fraction they cover, reads past the end clamped to the last pixel. The
    average is separable. Rows: one exact integer cumulative sum over rows serves every pyramid
    level, each level then costs two row gathers however many input rows one output row spans.
    Columns: a weighted sum of a few shifted gathers of the (smaller) row-averaged level.
    """

    def __init__(self, image):
        self.image = image
        self.row_sums = np.zeros((image.shape[0] + 1,) + image.shape[1:], np.int32)
        np.cumsum(image, axis=0, dtype=np.int32, out=self.row_sums[1:])

    def resize(self, out_height, out_width):
        """The image resized to (out_height, out_width, C) float32 by area averaging."""
        height = self.image.shape[0]
        step = np.float32(height) / np.float32(out_height)
        edges = np.arange(out_height + 1, dtype=np.float32) * step
        whole = np.minimum(np.floor(edges).astype(np.int64), height)
        fraction = (edges - whole).astype(np.float32)[:, None, None]
        # Sum up to edge e = row_sums[floor(e)] + frac(e) * row floor(e) (the last row past the end).
        sums = np.diff(self.row_sums[whole], axis=0).astype(np.float32)
        partial = fraction * self.image[np.minimum(whole, height - 1)]
        sums += partial[1:]
        sums -= partial[:-1]
        index, weight = _area_taps(self.image.shape[1], out_width)
        weight = weight / np.float32(step)
        out = np.multiply(np.take(sums, index[:, 0], axis=1), weight[None, :, 0, None])
        term = np.empty_like(out)
        for k in range(1, index.shape[1]):
            out += np.multiply(np.take(sums, index[:, k], axis=1), weight[None, :, k, None], out=term)
        return out


def _area_taps(in_size, out_size):
    # (out_size, taps) input indices and weights / s; a weight is 0 where a box needs fewer taps.
    step = np.float32(in_size) / np.float32(out_size)
    edges = np.arange(out_size + 1, dtype=np.float32) * step
    first = np.floor(edges[:-1]).astype(np.int64)
    taps = int((np.ceil(edges[1:]).astype(np.int64) - first).max())
    index = first[:, None] + np.arange(taps)[None, :]
    low = np.maximum(index, edges[:-1, None].astype(np.float64))
    high = np.minimum(index + 1, edges[1:, None].astype(np.float64))
    weight = np.clip(high - low, 0.0, None) / float(step)
    return np.minimum(index, in_size - 1), weight.astype(np.float32)


def _normalize(pixels):
    return ((np.asarray(pixels, np.float32) - 127.5) / 128.0).astype(np.float32)


def _pnet_boxes(regression, face_probability, threshold):
    """mtcnn's `generate_bounding_box` for one level: rows x1, y1, x2, y2, score in level pixels."""
    ys, xs = np.nonzero(face_probability > threshold)
    scores = face_probability[ys, xs]
    offsets = regression[ys, xs].astype(np.float64)
    x1 = xs * PNET_STRIDE + 1
    y1 = ys * PNET_STRIDE + 1
    x2 = xs * PNET_STRIDE + PNET_CELL
    y2 = ys * PNET_STRIDE + PNET_CELL
    size = PNET_CELL - 1
    boxes = np.stack(
        [x1 + offsets[:, 0] * size, y1 + offsets[:, 1] * size, x2 + offsets[:, 2] * size, y2 + offsets[:, 3] * size,
         scores.astype(np.float64)],
        axis=1,
    )
    return _sort_by_score(boxes)


def _sort_by_score(boxes):
    # mtcnn's sort_by_scores: argsort ascending, reversed (same tie order as mtcnn).
    return boxes[np.argsort(boxes[:, 4])[::-1]]


def mtcnn_nms(boxes, threshold, method):
    """Indices of the boxes mtcnn 1.0's NMS keeps, boxes sorted by score (highest first).

    A box is dropped when any box before it overlaps it by more than `threshold`, overlap being
    intersection over union ("union") or over the smaller box ("min"); areas are (x2 - x1) *
    (y2 - y1), without mtcnn's +1 elsewhere.
    """
    count = len(boxes)
    if count < 2:
        return np.arange(count)
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    area = (x2 - x1) * (y2 - y1)
    keep = np.ones(count, bool)
    # Row blocks bound the memory of the pairwise overlaps for photos with many proposals.
    block = max(1, 4_000_000 // count)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, count - 1, block):
            stop = min(start + block, count - 1)
            rows = slice(start, stop)
            inter_w = np.maximum(0, np.minimum(x2[rows, None], x2[None, :]) - np.maximum(x1[rows, None], x1[None, :]))
            inter_h = np.maximum(0, np.minimum(y2[rows, None], y2[None, :]) - np.maximum(y1[rows, None], y1[None, :]))
            inter = inter_w * inter_h
            if method == "union":
                overlap = inter / (area[rows, None] + area[None, :] - inter)
            else:
                overlap = inter / np.minimum(area[rows, None], area[None, :])
            # Only pairs (i, j) with i < j: box i suppresses the later box j.
            later = np.arange(count)[None, :] > np.arange(start, stop)[:, None]
            keep &= ~np.any((overlap > threshold) & later, axis=0)
    return np.nonzero(keep)[0]


def _square(boxes):
    """mtcnn's `resize_to_square`: each box grown to its longer side about its centre."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes, offsets):
    """mtcnn's `adjust_bboxes`: corners moved by offsets times the box size (+1 pixel)."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += offsets * np.stack([w, h, w, h], axis=1)
    return boxes


def crop_and_resize(image, boxes, size):
    """Bilinear crops of `boxes` (x1, y1, x2, y2) as mtcnn takes them: (N, size, size, 3) float32, normalized.

    mtcnn passes `tf.image.crop_and_resize` the box divided by the image size (not size - 1),
    and that op maps normalized coordinates onto [0, size - 1]; sample points outside the image
    get 0 after normalization (its extrapolation value). Both are repeated here. Interpolating
    the uint8 pixels and normalizing after is the same linear map as mtcnn's order.
    """
    height, width, channels = image.shape
    boxes = np.asarray(boxes, np.float64)
    count = len(boxes)
    in_y, valid_y = _crop_positions(boxes[:, 1], boxes[:, 3], height, size)
    in_x, valid_x = _crop_positions(boxes[:, 0], boxes[:, 2], width, size)
    top, left = np.floor(in_y), np.floor(in_x)
    y_lerp = (in_y - top)[:, :, None, None]
    x_lerp = (in_x - left)[:, None, :, None]
    top, left = top.astype(np.int64), left.astype(np.int64)
    # Clipped indices only matter for points outside the image (zeroed below) or with a zero lerp.
    row0, row1 = np.clip(top, 0, height - 1) * width, np.clip(top + 1, 0, height - 1) * width
    col0, col1 = np.clip(left, 0, width - 1), np.clip(left + 1, 0, width - 1)
    pixels = image.reshape(-1, channels)

    def gather(rows, cols):
        flat_index = (rows[:, :, None] + cols[:, None, :]).reshape(-1)
        return np.take(pixels, flat_index, axis=0).reshape(count, size, size, channels).astype(np.float32)

    crops, top_right = gather(row0, col0), gather(row0, col1)
    lower, bottom_right = gather(row1, col0), gather(row1, col1)
    crops += (top_right - crops) * x_lerp
    lower += (bottom_right - lower) * x_lerp
    crops += (lower - crops) * y_lerp
    crops -= 127.5
    crops /= 128.0
    crops[~(valid_y[:, :, None] & valid_x[:, None, :])] = 0.0
    return crops


def _crop_positions(start, stop, side, size):
    # tf.image.crop_and_resize in float32: start / side * (side - 1) + i * step.
    start = (start / side).astype(np.float32)
    stop = (stop / side).astype(np.float32)
    last = np.float32(side - 1)
    step = (stop - start) * last / np.float32(size - 1)
    positions = start[:, None] * last + np.arange(size, dtype=np.float32)[None, :] * step[:, None]
    return positions, (positions >= 0) & (positions <= last)


def _clip_to_image(boxes, shape):
    # mtcnn's limit_bboxes (fit_to_image=True, landmarks left alone).
    boxes = np.asarray(boxes, np.float64).copy()
    height, width = shape[:2]
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width - 1)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height - 1)
    return boxes


def _face_from_row(row):
    # Row: x1, y1, x2, y2, score, five x's, five y's (mtcnn's left_eye, right_eye, nose,
    # mouth_left, mouth_right: "left" is the image's left, our template order).
    box = np.array([row[0], row[1], row[2] - row[0], row[3] - row[1]], np.float32)
    landmarks5 = np.stack([row[5:10], row[10:15]], axis=1).astype(np.float32)
    return Face(box=box, score=float(row[4]), landmarks5=landmarks5)


class _Network:
    """One LiteRT network run at whatever input shapes come: one interpreter per shape, kept while they fit.

    Resizing an interpreter's input re-plans its XNNPACK delegate (measured: ~14 ms per 640x480
    photo when one interpreter was resized for each pyramid level), so each input shape keeps
    its own interpreter, least recently used
    first out once their inputs together exceed `budget` elements. Batches of crops are run in
    chunks whose sizes are powers of two up to `max_batch` (37 crops: 32 + 4 + 1), so a few
    interpreters serve every crop count without padding.
    """

    def __init__(self, path, num_threads, budget, max_batch=None):
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError("MTCNN network file missing (see mobiface_tf/assets/mtcnn/README.md)", path)
        self.path = path
        self.content = path.read_bytes()
        self.num_threads = num_threads
        self.budget = budget
        self.max_batch = max_batch
        self._interpreters = collections.OrderedDict()
        # Tensor indices are the same in every interpreter of one model: read them once.
        probe = self._new_interpreter()
        self.input_index = probe.get_input_details()[0]["index"]
        try:
            self.outputs = {
                _OUTPUT_BY_WIDTH[int(detail["shape_signature"][-1])]: detail["index"]
                for detail in probe.get_output_details()
            }
        except KeyError as error:
            raise ModelLoadError(f"not an MTCNN network: unexpected output width {error}", path) from None

    def _new_interpreter(self):
        from ai_edge_litert.interpreter import Interpreter

        try:
            return Interpreter(model_content=self.content, num_threads=self.num_threads)
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(f"not a usable .tflite network ({error})", self.path) from None

    def _interpreter(self, shape):
        interpreter = self._interpreters.pop(shape, None)
        if interpreter is None:
            interpreter = self._new_interpreter()
            try:
                interpreter.resize_tensor_input(self.input_index, shape, strict=True)
                with native_stderr_silenced():  # LiteRT announces its XNNPACK delegate on fd 2
                    interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                raise ModelLoadError(f"cannot run on an input of shape {list(shape)} ({error})", self.path) from None
        self._interpreters[shape] = interpreter
        while len(self._interpreters) > 1 and sum(np.prod(key) for key in self._interpreters) > self.budget:
            self._interpreters.popitem(last=False)
        return interpreter

    def run(self, batch, names):
        """Outputs `names` (numpy arrays, one row per input) for a float32 NHWC batch."""
        batch = np.asarray(batch, np.float32)
        if self.max_batch is None:
            return self._invoke(batch, names)
        chunks, start = [], 0
        while start < len(batch):
            size = min(self.max_batch, 1 << (int(len(batch) - start).bit_length() - 1))
            chunks.append(self._invoke(batch[start:start + size], names))
            start += size
        return tuple(np.concatenate(parts, axis=0) for parts in zip(*chunks))

    def _invoke(self, batch, names):
        interpreter = self._interpreter(batch.shape)
        interpreter.set_tensor(self.input_index, np.ascontiguousarray(batch))
        interpreter.invoke()
        return tuple(interpreter.get_tensor(self.outputs[name]) for name in names)
