// One face found by the detector: its box, its score and its five landmarks.
package com.mobiface.core;

/**
 * A face as {@code mobiface_tf.data.faces.Face} holds it: the box (left, top, width, height in
 * image pixels), O-Net's face probability, and the five landmarks as x0, y0, ..., x4, y4 (eye on
 * the image's left, eye on the right, nose, mouth corner left, right: {@link FaceAlignment}'s
 * order).
 */
public final class DetectedFace {
  public final float left;
  public final float top;
  public final float width;
  public final float height;
  public final double score;
  private final float[] landmarks5;

  public DetectedFace(float left, float top, float width, float height, double score, float[] landmarks5) {
    if (landmarks5 == null || landmarks5.length != 10) {
      throw new IllegalArgumentException("five landmarks are 10 numbers x0, y0, ..., x4, y4");
    }
    this.left = left;
    this.top = top;
    this.width = width;
    this.height = height;
    this.score = score;
    this.landmarks5 = landmarks5.clone();
  }

  /** The five landmarks, x0, y0, ..., x4, y4 (a copy), ready for {@link FaceAlignment#alignFace}. */
  public float[] landmarks5() {
    return landmarks5.clone();
  }

  /** Box area in square pixels: the app picks the largest face of a photo, as the desktop does. */
  public double area() {
    return (double) width * height;
  }

  @Override
  public String toString() {
    return String.format(java.util.Locale.ROOT, "face at (%.1f, %.1f) %.1fx%.1f, score %.4f",
        left, top, width, height, score);
  }
}
