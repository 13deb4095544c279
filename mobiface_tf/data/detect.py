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
    MtcnnDetector,
    downscale_for_detection,
    select_faces,
)
from mobiface_tf.quiet import import_tensorflow

# Face, FACE_POLICIES, select_faces and the large-photo rule (DETECT_MAX_SIDE,
# downscale_for_detection, applied by MtcnnDetector.detect) live in data/faces.py, shared with the
# LiteRT detector (data/detect_lite.py); they stay importable from here.
__all__ = ["DETECT_MAX_SIDE", "FACE_POLICIES", "Face", "FaceDetector", "downscale_for_detection", "select_faces"]


class FaceDetector(MtcnnDetector):
    """MTCNN face detector, built on first use and reused across calls.

    Args: those of `MtcnnDetector` (`min_face_size`, `thresholds`, `scale_factor`, `max_side`:
    photos larger than 1280 pixels are detected on a downscaled copy).

    TensorFlow's thread count is the caller's choice (the align tool runs one thread per worker
    process); set it before the first `detect`.
    """

    def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.8), scale_factor=0.709, max_side=DETECT_MAX_SIDE):
        super().__init__(min_face_size, thresholds, scale_factor, max_side)
        self._mtcnn = None

    def _detect_full(self, image):
        if self._mtcnn is None:
            import_tensorflow()  # mtcnn runs on TensorFlow: its start-up lines stay off the terminal
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
