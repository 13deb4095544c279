"""Face detection with the `mtcnn` package on TensorFlow: boxes, scores, five landmarks.

This is the only module that imports `mtcnn`. Its weights ship inside the `mtcnn` wheel, so
detection never touches the network. `data/detect_lite.py` runs the same three networks on
LiteRT without TensorFlow; both return `Face` lists (`data/faces.py`).
"""

import numpy as np

from mobiface_tf.data.faces import (
    DETECT_MAX_SIDE,
    FACE_POLICIES,
    Face,
    check_detector_settings,
    detect_downscaled,
    downscale_for_detection,
    select_faces,
)
from mobiface_tf.data.images import load_rgb

# Face, FACE_POLICIES, select_faces and the large-photo rule (DETECT_MAX_SIDE,
# downscale_for_detection) live in data/faces.py, shared with the LiteRT detector
# (data/detect_lite.py); they stay importable from here.
__all__ = ["DETECT_MAX_SIDE", "FACE_POLICIES", "Face", "FaceDetector", "downscale_for_detection", "select_faces"]


class FaceDetector:
    """MTCNN face detector, built on first use and reused across calls.

    Args:
        min_face_size: smallest face side, in pixels, the image pyramid looks for.
        thresholds: confidence thresholds of the three MTCNN stages (P-Net, R-Net, O-Net).
        scale_factor: image pyramid step.
        max_side: photos with a longer side above this many pixels are detected on a copy
            downscaled to it; boxes and landmarks come back in the photo's own coordinates.
            None detects at full resolution whatever the size.

    TensorFlow's thread count is the caller's choice (the align tool runs one thread per worker
    process); set it before the first `detect`.
    """

    def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.8), scale_factor=0.709, max_side=DETECT_MAX_SIDE):
        self.min_face_size, self.thresholds, self.scale_factor, self.max_side = check_detector_settings(
            min_face_size, thresholds, scale_factor, max_side)
        self._mtcnn = None

    def detect(self, image_rgb):
        """All faces in an image, highest score first.

        Args:
            image_rgb: an RGB uint8 (H, W, 3) array, or anything `load_rgb` accepts (a path is
                read with its EXIF orientation applied).

        Returns:
            list of `Face`, possibly empty, in the coordinates of `image_rgb`.
        """
        return detect_downscaled(self._detect_full, load_rgb(image_rgb), self.max_side)

    def _detect_full(self, image):
        if self._mtcnn is None:
            from mtcnn import MTCNN

            self._mtcnn = MTCNN()
        # The numpy output keeps sub-pixel landmarks; the JSON output rounds them to integers.
        rows = self._mtcnn.detect_faces(
            image,
            output_type="numpy",
            box_format="xywh",
            min_face_size=self.min_face_size,
            scale_factor=self.scale_factor,
            threshold_pnet=self.thresholds[0],
            threshold_rnet=self.thresholds[1],
            threshold_onet=self.thresholds[2],
        )
        return [_face_from_row(row) for row in np.asarray(rows).reshape(-1, 16)]


def _face_from_row(row):
    # mtcnn's row: image id, x, y, w, h, score, five x's, then five y's, in the order left_eye,
    # right_eye, nose, mouth_left, mouth_right. Its "left" is the image's left (checked against
    # LFW's landmarks_5pt.txt), which is our template order.
    landmarks5 = np.stack([row[6:11], row[11:16]], axis=1).astype(np.float32)
    return Face(box=row[1:5].astype(np.float32), score=float(row[5]), landmarks5=landmarks5)
