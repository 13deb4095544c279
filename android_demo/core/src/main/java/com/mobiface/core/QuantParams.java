// Affine quantization of an 8-bit tensor: real = scale * (q - zeroPoint).
package com.mobiface.core;

/**
 * Scale and zero point of an int8/uint8 tensor. The metadata JSON names only the dtype; these
 * numbers belong to the model file, so the app reads them from the interpreter's tensor.
 */
public final class QuantParams {
  /** For float tensors, where no quantization applies. */
  public static final QuantParams NONE = new QuantParams(1.0f, 0);

  private final float scale;
  private final int zeroPoint;

  /** Checks the scale early: a zero or negative scale would turn every pixel into garbage. */
  public QuantParams(float scale, int zeroPoint) {
    if (!(scale > 0) || Float.isInfinite(scale)) {
      throw new IllegalArgumentException("quantization scale must be > 0, got " + scale);
    }
    this.scale = scale;
    this.zeroPoint = zeroPoint;
  }

  public float scale() {
    return scale;
  }

  public int zeroPoint() {
    return zeroPoint;
  }

  @Override
  public String toString() {
    return "QuantParams(scale=" + scale + ", zeroPoint=" + zeroPoint + ")";
  }
}
