// The three MTCNN networks as the detector's post-processing sees them: arrays in, arrays out.
package com.mobiface.core;

/**
 * P-, R- and O-Net behind one small interface, so that {@link MtcnnDetector} runs on the JVM
 * (tests replay outputs recorded from the Python detector) and on the phone (the app runs the
 * bundled {@code .tflite} files with LiteRT). Inputs are float32 NHWC, interleaved RGB already
 * normalized to (p - 127.5) / 128; outputs are the networks' tensors, row-major, as LiteRT gives
 * them.
 */
public interface MtcnnNetworks {
  /** P-Net on one pyramid level: {@code level} is [1, height, width, 3]. */
  GridOutput pnet(float[] level, int height, int width);

  /** R-Net on {@code count} crops of 24x24: {@code crops} is [count, 24, 24, 3]. */
  BatchOutput rnet(float[] crops, int count);

  /** O-Net on {@code count} crops of 48x48: {@code crops} is [count, 48, 48, 3]. */
  BatchOutput onet(float[] crops, int count);

  /** P-Net's outputs on a rows x cols grid of 12x12 windows (stride 2). */
  final class GridOutput {
    public final int rows;
    public final int cols;
    /** [rows, cols, 4]: the box regression of each window. */
    public final float[] boxRegression;
    /** [rows, cols, 2]: softmax over (not a face, a face). */
    public final float[] faceProbability;

    public GridOutput(int rows, int cols, float[] boxRegression, float[] faceProbability) {
      if (rows < 0 || cols < 0) {
        throw new IllegalArgumentException("P-Net grid of " + rows + "x" + cols);
      }
      checkLength("P-Net box regression", boxRegression, rows * cols * 4);
      checkLength("P-Net face probability", faceProbability, rows * cols * 2);
      this.rows = rows;
      this.cols = cols;
      this.boxRegression = boxRegression;
      this.faceProbability = faceProbability;
    }
  }

  /** R- or O-Net's outputs for a batch of crops. */
  final class BatchOutput {
    public final int count;
    /** [count, 4]. */
    public final float[] boxRegression;
    /** [count, 2]: softmax over (not a face, a face). */
    public final float[] faceProbability;
    /** O-Net only, [count, 10]: five x's then five y's, fractions of the crop; null for R-Net. */
    public final float[] landmarks;

    public BatchOutput(int count, float[] boxRegression, float[] faceProbability, float[] landmarks) {
      checkLength("box regression", boxRegression, count * 4);
      checkLength("face probability", faceProbability, count * 2);
      if (landmarks != null) {
        checkLength("landmarks", landmarks, count * 10);
      }
      this.count = count;
      this.boxRegression = boxRegression;
      this.faceProbability = faceProbability;
      this.landmarks = landmarks;
    }
  }

  /** Throws unless {@code values} holds exactly {@code expected} numbers. */
  static void checkLength(String what, float[] values, int expected) {
    if (values == null || values.length != expected) {
      throw new IllegalArgumentException(what + ": expected " + expected + " values, got "
          + (values == null ? "null" : String.valueOf(values.length)));
    }
  }
}
