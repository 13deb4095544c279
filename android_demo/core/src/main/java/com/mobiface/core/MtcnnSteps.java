// The MTCNN steps around the networks, as mobiface_tf/data/detect_lite.py computes them.
package com.mobiface.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Pyramid, area resizing, crops, P-Net boxes, non-maximum suppression, squaring and box
 * regression of {@code detect_lite.py}, number for number: where the Python code computes in
 * float32 (resizing, crops) this does too, in the same order of operations; elsewhere in double.
 * Box rows are double[] {x1, y1, x2, y2, score} (after O-Net followed by five x's, five y's).
 * Checked against the Python functions' results in {@code MtcnnStepsTest}.
 */
final class MtcnnSteps {
  private MtcnnSteps() {}

  /** P-Net's window: also the smallest pyramid level it can run on. */
  static final int PNET_CELL = 12;

  static final int PNET_STRIDE = 2;

  /** mtcnn 1.0's pyramid scales ({@code build_scale_pyramid}), largest first. */
  static double[] pyramidScales(int height, int width, double minFaceSize, double scaleFactor) {
    int minSide = Math.min(width, height);
    // Python's round() on a float64: half to even, as Math.rint.
    long count = (long) Math.rint(-((Math.log(minSide / (double) PNET_CELL) / Math.log(scaleFactor)) + 1));
    double[] scales = new double[(int) Math.max(0, count)];
    for (int k = 0; k < scales.length; k++) {
      scales[k] = (PNET_CELL / minFaceSize) * StrictMath.pow(scaleFactor, k);
    }
    return scales;
  }

  /**
   * Area resizing of one RGB image to many sizes, as TensorFlow's {@code resize_area} (and
   * {@code detect_lite._AreaResizer}) computes it: output pixel i averages input [i s, (i + 1) s),
   * s = in / out in float32, partial pixels weighted by the part they cover.
   */
  static final class AreaResizer {
    private final byte[] rgb;
    private final int width;
    private final int height;
    /** Exact integer sums of rows [0, y) for y in 0..height, per column and channel. */
    private final int[] rowSums;

    AreaResizer(byte[] rgb, int width, int height) {
      checkImage(rgb, width, height);
      this.rgb = rgb;
      this.width = width;
      this.height = height;
      int stride = width * 3;
      rowSums = new int[(height + 1) * stride];
      for (int y = 0; y < height; y++) {
        for (int i = 0; i < stride; i++) {
          rowSums[(y + 1) * stride + i] = rowSums[y * stride + i] + (rgb[y * stride + i] & 0xFF);
        }
      }
    }

    /** The image resized to outHeight x outWidth, interleaved RGB float32 (not normalized). */
    float[] resize(int outHeight, int outWidth) {
      if (outHeight < 1 || outWidth < 1) {
        throw new IllegalArgumentException("cannot resize to " + outWidth + "x" + outHeight);
      }
      int stride = width * 3;
      float step = (float) height / (float) outHeight;
      // Rows first: sums over each output row's span of input rows, per input column.
      int[] whole = new int[outHeight + 1];
      float[] fraction = new float[outHeight + 1];
      for (int k = 0; k <= outHeight; k++) {
        float edge = (float) k * step;
        whole[k] = (int) Math.min((long) Math.floor(edge), height);
        fraction[k] = edge - whole[k];
      }
      float[] sums = new float[outHeight * stride];
      for (int r = 0; r < outHeight; r++) {
        int lowRow = Math.min(whole[r], height - 1) * stride;
        int highRow = Math.min(whole[r + 1], height - 1) * stride;
        for (int i = 0; i < stride; i++) {
          float sum = (float) (rowSums[whole[r + 1] * stride + i] - rowSums[whole[r] * stride + i]);
          sum += fraction[r + 1] * (float) (rgb[highRow + i] & 0xFF);
          sum -= fraction[r] * (float) (rgb[lowRow + i] & 0xFF);
          sums[r * stride + i] = sum;
        }
      }
      // Then columns: a weighted sum of a few input columns per output column.
      float colStep = (float) width / (float) outWidth;
      float[] edges = new float[outWidth + 1];
      for (int k = 0; k <= outWidth; k++) {
        edges[k] = (float) k * colStep;
      }
      int taps = 0;
      for (int c = 0; c < outWidth; c++) {
        taps = (int) Math.max(taps, (long) Math.ceil(edges[c + 1]) - (long) Math.floor(edges[c]));
      }
      int[] index = new int[outWidth * taps];
      float[] weight = new float[outWidth * taps];
      for (int c = 0; c < outWidth; c++) {
        long first = (long) Math.floor(edges[c]);
        for (int k = 0; k < taps; k++) {
          long column = first + k;
          double low = Math.max((double) column, (double) edges[c]);
          double high = Math.min((double) (column + 1), (double) edges[c + 1]);
          float w = (float) (Math.max(high - low, 0.0) / (double) colStep);
          index[c * taps + k] = (int) Math.min(column, width - 1);
          weight[c * taps + k] = w / step;
        }
      }
      float[] out = new float[outHeight * outWidth * 3];
      for (int r = 0; r < outHeight; r++) {
        for (int c = 0; c < outWidth; c++) {
          for (int band = 0; band < 3; band++) {
            float value = 0f;
            for (int k = 0; k < taps; k++) {
              float term = sums[r * stride + index[c * taps + k] * 3 + band] * weight[c * taps + k];
              value = k == 0 ? term : value + term;
            }
            out[(r * outWidth + c) * 3 + band] = value;
          }
        }
      }
      return out;
    }
  }

  /** (p - 127.5) / 128 in float32, in place; returns {@code pixels}. */
  static float[] normalize(float[] pixels) {
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (pixels[i] - 127.5f) / 128f;
    }
    return pixels;
  }

  /**
   * mtcnn's {@code generate_bounding_box} for one level: the windows whose face probability
   * exceeds {@code threshold} (compared in float32, as NumPy does), regressed, in level pixels,
   * sorted by score.
   */
  static double[][] pnetBoxes(MtcnnNetworks.GridOutput output, double threshold) {
    float limit = (float) threshold;
    List<double[]> boxes = new ArrayList<double[]>();
    double size = PNET_CELL - 1;
    for (int y = 0; y < output.rows; y++) {
      for (int x = 0; x < output.cols; x++) {
        int cell = y * output.cols + x;
        float probability = output.faceProbability[cell * 2 + 1];
        if (!(probability > limit)) {
          continue;
        }
        float[] offsets = output.boxRegression;
        int o = cell * 4;
        boxes.add(new double[] {
          (x * PNET_STRIDE + 1) + offsets[o] * size,
          (y * PNET_STRIDE + 1) + offsets[o + 1] * size,
          (x * PNET_STRIDE + PNET_CELL) + offsets[o + 2] * size,
          (y * PNET_STRIDE + PNET_CELL) + offsets[o + 3] * size,
          probability,
        });
      }
    }
    return sortByScore(boxes.toArray(new double[0][]));
  }

  /**
   * Highest score first, as mtcnn's {@code sort_by_scores} (an ascending argsort, reversed). Ties
   * come in reverse order, as NumPy gives them for up to 16 boxes (an insertion sort); for more,
   * NumPy's order of ties depends on its sort implementation (SIMD or introsort), so the Python
   * detector itself has no fixed order there.
   */
  static double[][] sortByScore(double[][] boxes) {
    Integer[] order = new Integer[boxes.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    final double[][] rows = boxes;
    Arrays.sort(order, new Comparator<Integer>() {
      @Override
      public int compare(Integer a, Integer b) {
        int byScore = Double.compare(rows[b][4], rows[a][4]);
        return byScore != 0 ? byScore : Integer.compare(b, a);
      }
    });
    double[][] sorted = new double[boxes.length][];
    for (int i = 0; i < order.length; i++) {
      sorted[i] = boxes[order[i]];
    }
    return sorted;
  }

  /**
   * Indices of the boxes mtcnn 1.0's NMS keeps, boxes sorted by score: a box is dropped when any
   * box before it, kept or not, overlaps it by more than {@code threshold}, overlap being over the
   * union ({@code min == false}) or over the smaller box; areas without mtcnn's +1.
   */
  static int[] nms(double[][] boxes, double threshold, boolean min) {
    int count = boxes.length;
    double[] area = new double[count];
    for (int i = 0; i < count; i++) {
      area[i] = (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]);
    }
    int[] keep = new int[count];
    int kept = 0;
    for (int j = 0; j < count; j++) {
      boolean dropped = false;
      for (int i = 0; i < j && !dropped; i++) {
        double interW = Math.max(0, Math.min(boxes[i][2], boxes[j][2]) - Math.max(boxes[i][0], boxes[j][0]));
        double interH = Math.max(0, Math.min(boxes[i][3], boxes[j][3]) - Math.max(boxes[i][1], boxes[j][1]));
        double inter = interW * interH;
        double overlap = min ? inter / Math.min(area[i], area[j]) : inter / (area[i] + area[j] - inter);
        dropped = overlap > threshold; // NaN (0 / 0) is never above
      }
      if (!dropped) {
        keep[kept++] = j;
      }
    }
    return Arrays.copyOf(keep, kept);
  }

  /** The rows at {@code indices}. */
  static double[][] select(double[][] boxes, int[] indices) {
    double[][] out = new double[indices.length][];
    for (int i = 0; i < indices.length; i++) {
      out[i] = boxes[indices[i]];
    }
    return out;
  }

  /** mtcnn's {@code resize_to_square}: each box grown to its longer side about its centre (copies). */
  static double[][] square(double[][] boxes) {
    double[][] out = new double[boxes.length][];
    for (int i = 0; i < boxes.length; i++) {
      double[] box = boxes[i].clone();
      double w = box[2] - box[0];
      double h = box[3] - box[1];
      double side = Math.max(w, h);
      box[0] = box[0] + w * 0.5 - side * 0.5;
      box[1] = box[1] + h * 0.5 - side * 0.5;
      box[2] = box[0] + side;
      box[3] = box[1] + side;
      out[i] = box;
    }
    return out;
  }

  /** mtcnn's {@code adjust_bboxes}: corners moved by offsets ([n, 4]) times the box size + 1 (copies). */
  static double[][] regress(double[][] boxes, float[] offsets) {
    double[][] out = new double[boxes.length][];
    for (int i = 0; i < boxes.length; i++) {
      double[] box = boxes[i].clone();
      double w = box[2] - box[0] + 1;
      double h = box[3] - box[1] + 1;
      box[0] += offsets[i * 4] * w;
      box[1] += offsets[i * 4 + 1] * h;
      box[2] += offsets[i * 4 + 2] * w;
      box[3] += offsets[i * 4 + 3] * h;
      out[i] = box;
    }
    return out;
  }

  /**
   * Bilinear crops of boxes (x1, y1, x2, y2) as mtcnn takes them with {@code
   * tf.image.crop_and_resize}: [n, size, size, 3] float32, normalized; sample points outside the
   * image are 0 after normalization. See {@code detect_lite.crop_and_resize}.
   */
  static float[] cropAndResize(byte[] rgb, int width, int height, double[][] boxes, int size) {
    checkImage(rgb, width, height);
    float[] crops = new float[boxes.length * size * size * 3];
    float[] inY = new float[size];
    float[] inX = new float[size];
    for (int n = 0; n < boxes.length; n++) {
      cropPositions(boxes[n][1], boxes[n][3], height, inY);
      cropPositions(boxes[n][0], boxes[n][2], width, inX);
      for (int i = 0; i < size; i++) {
        float py = inY[i];
        boolean validY = py >= 0f && py <= (float) (height - 1);
        float top = (float) Math.floor(py);
        float yLerp = py - top;
        int row0 = clamp((int) top, height) * width;
        int row1 = clamp((int) top + 1, height) * width;
        for (int j = 0; j < size; j++) {
          int o = ((n * size + i) * size + j) * 3;
          float px = inX[j];
          if (!validY || !(px >= 0f && px <= (float) (width - 1))) {
            continue; // already 0
          }
          float left = (float) Math.floor(px);
          float xLerp = px - left;
          int col0 = clamp((int) left, width);
          int col1 = clamp((int) left + 1, width);
          for (int band = 0; band < 3; band++) {
            float topLeft = rgb[(row0 + col0) * 3 + band] & 0xFF;
            float topRight = rgb[(row0 + col1) * 3 + band] & 0xFF;
            float bottomLeft = rgb[(row1 + col0) * 3 + band] & 0xFF;
            float bottomRight = rgb[(row1 + col1) * 3 + band] & 0xFF;
            float upper = topLeft + (topRight - topLeft) * xLerp;
            float lower = bottomLeft + (bottomRight - bottomLeft) * xLerp;
            float value = upper + (lower - upper) * yLerp;
            crops[o + band] = (value - 127.5f) / 128f;
          }
        }
      }
    }
    return crops;
  }

  // tf.image.crop_and_resize in float32: start / side * (side - 1) + i * step.
  private static void cropPositions(double start, double stop, int side, float[] out) {
    float from = (float) (start / side);
    float to = (float) (stop / side);
    float last = (float) (side - 1);
    float step = (to - from) * last / (float) (out.length - 1);
    for (int i = 0; i < out.length; i++) {
      out[i] = from * last + (float) i * step;
    }
  }

  private static int clamp(int i, int size) {
    return i < 0 ? 0 : (i < size ? i : size - 1);
  }

  static void checkImage(byte[] rgb, int width, int height) {
    if (width <= 0 || height <= 0 || rgb == null || (long) rgb.length != (long) width * height * 3) {
      throw new IllegalArgumentException("expected " + width + "x" + height + "x3 = "
          + ((long) width * height * 3) + " RGB bytes, got " + (rgb == null ? "null" : rgb.length));
    }
  }
}
