// MTCNN face detection around three networks: mobiface_tf/data/detect_lite.py's LiteFaceDetector in Java.
package com.mobiface.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * The desktop's {@code LiteFaceDetector} (mtcnn 1.0's detection) in plain Java: the same
 * settings, the same steps, the same faces. The networks come through {@link MtcnnNetworks} (on
 * the phone: the bundled P-, R- and O-Net {@code .tflite} files on LiteRT); everything around
 * them is here, step for step as {@code detect_lite.py} does it ({@link MtcnnSteps}):
 *
 * <ul>
 *   <li>the pyramid: scales (12 / minFaceSize) scaleFactor^k, level sizes truncated, each level
 *       area-resized from the full image and normalized to (p - 127.5) / 128;
 *   <li>P-Net windows above the first threshold, regressed, divided by the scale; NMS per level
 *       (union 0.5) and across levels (union 0.7); boxes made square;
 *   <li>R-Net on 24x24 bilinear crops: scores, regression by (w + 1, h + 1), second threshold,
 *       NMS (union 0.7), squared;
 *   <li>O-Net on 48x48 crops: landmarks relative to the box it saw, regression, third threshold,
 *       NMS (over the smaller box, 0.7); boxes clipped to the image.
 * </ul>
 *
 * Not thread-safe when the networks are not (LiteRT interpreters are not).
 */
public final class MtcnnDetector {
  public static final int RNET_SIZE = 24;
  public static final int ONET_SIZE = 48;
  static final double NMS_PNET_LEVEL = 0.5;
  static final double NMS_PNET_ALL = 0.7;
  static final double NMS_RNET = 0.7;
  static final double NMS_ONET = 0.7;

  private final MtcnnNetworks networks;
  private final double minFaceSize;
  private final double[] thresholds;
  private final double scaleFactor;

  /** mtcnn's defaults: smallest face 20 px, thresholds 0.6, 0.7, 0.8, pyramid step 0.709. */
  public MtcnnDetector(MtcnnNetworks networks) {
    this(networks, 20, new double[] {0.6, 0.7, 0.8}, 0.709);
  }

  /**
   * @param minFaceSize smallest face side, in pixels, the pyramid looks for (>= 4)
   * @param thresholds the three stages' face-probability thresholds, each in 0..1
   * @param scaleFactor the pyramid step, in (0, 1)
   */
  public MtcnnDetector(MtcnnNetworks networks, double minFaceSize, double[] thresholds, double scaleFactor) {
    if (networks == null) {
      throw new IllegalArgumentException("no networks");
    }
    if (!(minFaceSize >= 4)) {
      throw new IllegalArgumentException("minFaceSize must be >= 4 pixels, got " + minFaceSize);
    }
    if (thresholds == null || thresholds.length != 3) {
      throw new IllegalArgumentException("thresholds must be three values in 0..1, got "
          + Arrays.toString(thresholds));
    }
    for (double t : thresholds) {
      if (!(t >= 0 && t <= 1)) {
        throw new IllegalArgumentException("thresholds must be three values in 0..1, got "
            + Arrays.toString(thresholds));
      }
    }
    if (!(scaleFactor > 0 && scaleFactor < 1)) {
      throw new IllegalArgumentException("scaleFactor must be in (0, 1), got " + scaleFactor);
    }
    this.networks = networks;
    this.minFaceSize = minFaceSize;
    this.thresholds = thresholds.clone();
    this.scaleFactor = scaleFactor;
  }

  /**
   * All faces in an image, highest score first (possibly none).
   *
   * @param rgb interleaved R, G, B bytes, row by row, {@code width * height * 3} of them
   */
  public List<DetectedFace> detect(byte[] rgb, int width, int height) {
    MtcnnSteps.checkImage(rgb, width, height);
    double[][] boxes = stagePnet(rgb, width, height);
    if (boxes.length > 0) {
      boxes = stageRnet(rgb, width, height, boxes);
    }
    if (boxes.length > 0) {
      boxes = stageOnet(rgb, width, height, boxes);
    }
    List<DetectedFace> faces = new ArrayList<DetectedFace>();
    for (double[] row : boxes) {
      faces.add(faceFromRow(row, width, height));
    }
    // Stable, as Python's sorted(): O-Net's order already is by score.
    Collections.sort(faces, new Comparator<DetectedFace>() {
      @Override
      public int compare(DetectedFace a, DetectedFace b) {
        return Double.compare(b.score, a.score);
      }
    });
    return faces;
  }

  /** The face with the largest box (ties: the higher score), or null: the desktop's "largest" policy. */
  public static DetectedFace largest(List<DetectedFace> faces) {
    DetectedFace best = null;
    for (DetectedFace face : faces) {
      if (best == null || face.area() > best.area() || (face.area() == best.area() && face.score > best.score)) {
        best = face;
      }
    }
    return best;
  }

  private double[][] stagePnet(byte[] rgb, int width, int height) {
    MtcnnSteps.AreaResizer resizer = new MtcnnSteps.AreaResizer(rgb, width, height);
    List<double[]> all = new ArrayList<double[]>();
    for (double scale : MtcnnSteps.pyramidScales(height, width, minFaceSize, scaleFactor)) {
      int levelHeight = (int) (height * scale);
      int levelWidth = (int) (width * scale);
      if (Math.min(levelHeight, levelWidth) < MtcnnSteps.PNET_CELL) {
        continue; // too small for one window; mtcnn would fail here and find nothing at all
      }
      float[] level = MtcnnSteps.normalize(resizer.resize(levelHeight, levelWidth));
      double[][] boxes = MtcnnSteps.pnetBoxes(networks.pnet(level, levelHeight, levelWidth), thresholds[0]);
      for (double[] box : boxes) {
        for (int k = 0; k < 4; k++) {
          box[k] /= scale;
        }
      }
      all.addAll(Arrays.asList(MtcnnSteps.select(boxes, MtcnnSteps.nms(boxes, NMS_PNET_LEVEL, false))));
    }
    double[][] boxes = MtcnnSteps.sortByScore(all.toArray(new double[0][]));
    boxes = MtcnnSteps.select(boxes, MtcnnSteps.nms(boxes, NMS_PNET_ALL, false));
    return MtcnnSteps.square(boxes);
  }

  private double[][] stageRnet(byte[] rgb, int width, int height, double[][] boxes) {
    float[] crops = MtcnnSteps.cropAndResize(rgb, width, height, boxes, RNET_SIZE);
    MtcnnNetworks.BatchOutput out = networks.rnet(crops, boxes.length);
    checkCount("R-Net", out, boxes.length);
    double[][] scored = withScores(boxes, out.faceProbability);
    double[][] regressed = MtcnnSteps.regress(scored, out.boxRegression);
    double[][] kept = MtcnnSteps.sortByScore(above(regressed, thresholds[1]));
    kept = MtcnnSteps.select(kept, MtcnnSteps.nms(kept, NMS_RNET, false));
    return MtcnnSteps.square(kept);
  }

  private double[][] stageOnet(byte[] rgb, int width, int height, double[][] boxes) {
    float[] crops = MtcnnSteps.cropAndResize(rgb, width, height, boxes, ONET_SIZE);
    MtcnnNetworks.BatchOutput out = networks.onet(crops, boxes.length);
    checkCount("O-Net", out, boxes.length);
    if (out.landmarks == null) {
      throw new IllegalStateException("O-Net gave no landmarks");
    }
    double[][] scored = withScores(boxes, out.faceProbability);
    double[][] regressed = MtcnnSteps.regress(scored, out.boxRegression);
    double[][] rows = new double[boxes.length][];
    for (int i = 0; i < boxes.length; i++) {
      // Landmarks are fractions of the box O-Net saw (before its regression), mtcnn's +1/-1 kept.
      double[] box = boxes[i];
      double w = box[2] - box[0] + 1;
      double h = box[3] - box[1] + 1;
      double[] row = Arrays.copyOf(regressed[i], 15);
      for (int k = 0; k < 5; k++) {
        row[5 + k] = w * out.landmarks[i * 10 + k] + box[0] - 1;
        row[10 + k] = h * out.landmarks[i * 10 + 5 + k] + box[1] - 1;
      }
      rows[i] = row;
    }
    double[][] kept = MtcnnSteps.sortByScore(above(rows, thresholds[2]));
    return MtcnnSteps.select(kept, MtcnnSteps.nms(kept, NMS_ONET, true));
  }

  private static void checkCount(String network, MtcnnNetworks.BatchOutput out, int count) {
    if (out.count != count) {
      throw new IllegalStateException(network + " answered " + out.count + " crops, was given " + count);
    }
  }

  /** Copies of the boxes with their scores set to the face probabilities ([n, 2], column 1). */
  private static double[][] withScores(double[][] boxes, float[] faceProbability) {
    double[][] out = new double[boxes.length][];
    for (int i = 0; i < boxes.length; i++) {
      out[i] = boxes[i].clone();
      out[i][4] = faceProbability[i * 2 + 1];
    }
    return out;
  }

  private static double[][] above(double[][] boxes, double threshold) {
    List<double[]> kept = new ArrayList<double[]>();
    for (double[] box : boxes) {
      if (box[4] > threshold) {
        kept.add(box);
      }
    }
    return kept.toArray(new double[0][]);
  }

  // mtcnn's limit_bboxes (boxes clipped to the image, landmarks left alone), then Face's layout.
  private static DetectedFace faceFromRow(double[] row, int width, int height) {
    double x1 = clip(row[0], width - 1);
    double y1 = clip(row[1], height - 1);
    double x2 = clip(row[2], width - 1);
    double y2 = clip(row[3], height - 1);
    float[] landmarks = new float[10];
    for (int k = 0; k < 5; k++) {
      landmarks[2 * k] = (float) row[5 + k];
      landmarks[2 * k + 1] = (float) row[10 + k];
    }
    return new DetectedFace((float) x1, (float) y1, (float) (x2 - x1), (float) (y2 - y1), row[4], landmarks);
  }

  private static double clip(double value, double max) {
    return Math.min(Math.max(value, 0), max);
  }
}
