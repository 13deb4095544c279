// Pixels into a model's input tensor and its output tensor into floats, as the metadata says.
package com.mobiface.core;

import java.nio.ByteBuffer;

/**
 * Fills input buffers from RGB bytes and reads embeddings from output buffers.
 *
 * <p>Each 8-bit pixel p becomes {@code x = low + p * (high - low) / 255} (the metadata's
 * {@code input.range}); when {@code inside_model} is false the feeder then applies
 * {@code (x - mean) / std}, otherwise the model does it itself. For int8/uint8 inputs the result is
 * quantized with the tensor's own scale and zero point: {@code q = round(x / scale) + zeroPoint},
 * clamped to the type's range. Buffers are written with relative puts in their own byte order, so
 * callers allocate them with {@code ByteOrder.nativeOrder()} for LiteRT.
 */
public final class TensorCodec {
  private TensorCodec() {}

  /** Bytes one input image takes in the model's input tensor. */
  public static int inputBytesPerImage(ModelMetadata metadata) {
    return metadata.height() * metadata.width() * metadata.channels() * metadata.dtype().bytes();
  }

  /**
   * Writes one aligned face, {@code batch} times, at the buffer's position.
   *
   * @param rgb interleaved R, G, B bytes, row by row, {@code height * width * 3} long
   * @param metadata the model's metadata: size, dtype, range, normalization, channel order
   * @param quant the input tensor's quantization; {@link QuantParams#NONE} for float32
   * @param out the input buffer, with room for {@code batch} images from its position
   * @param batch the tensor's batch size; a fixed-batch model gets the same face in every slot
   */
  public static void fillInput(
      byte[] rgb, ModelMetadata metadata, QuantParams quant, ByteBuffer out, int batch) {
    int pixels = metadata.height() * metadata.width();
    if (rgb == null || rgb.length != pixels * 3) {
      throw new IllegalArgumentException(
          "expected " + metadata.width() + "x" + metadata.height() + " RGB = " + (pixels * 3)
              + " bytes, got " + (rgb == null ? "null" : rgb.length));
    }
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be >= 1, got " + batch);
    }
    int needed = batch * inputBytesPerImage(metadata);
    if (out.remaining() < needed) {
      throw new IllegalArgumentException(
          "input buffer has " + out.remaining() + " bytes left, needs " + needed);
    }
    TensorType dtype = metadata.dtype();
    if (dtype.isQuantized() && quant == QuantParams.NONE) {
      throw new IllegalArgumentException(
          "a " + dtype.jsonName() + " input needs the tensor's scale and zero point");
    }
    // All 256 byte values map the same way in every channel: compute them once.
    float[] asFloat = new float[256];
    byte[] asByte = new byte[256];
    for (int p = 0; p < 256; p++) {
      float x = normalizedValue(p, metadata);
      asFloat[p] = x;
      if (dtype.isQuantized()) {
        asByte[p] = quantize(x, quant, dtype);
      }
    }
    int[] order = metadata.isBgr() ? new int[] {2, 1, 0} : new int[] {0, 1, 2};
    for (int b = 0; b < batch; b++) {
      for (int i = 0; i < pixels; i++) {
        int base = i * 3;
        for (int c = 0; c < 3; c++) {
          int p = rgb[base + order[c]] & 0xff;
          if (dtype == TensorType.FLOAT32) {
            out.putFloat(asFloat[p]);
          } else {
            out.put(asByte[p]);
          }
        }
      }
    }
  }

  /** The real value a pixel byte (0..255) becomes before quantization. */
  public static float normalizedValue(int pixel, ModelMetadata metadata) {
    if (pixel < 0 || pixel > 255) {
      throw new IllegalArgumentException("pixel must lie in 0..255, got " + pixel);
    }
    float x = metadata.rangeMin() + pixel * (metadata.rangeMax() - metadata.rangeMin()) / 255f;
    if (!metadata.normalizationInsideModel()) {
      x = (x - metadata.mean()) / metadata.std();
    }
    return x;
  }

  /** Quantizes a real value into an int8 or uint8 byte (round half away from zero, clamped). */
  public static byte quantize(float x, QuantParams quant, TensorType type) {
    // Half away from zero, like TFLite's reference quantize (Math.round would round -2.5 to -2).
    double r = (double) x / quant.scale();
    long q = (long) (r >= 0 ? Math.floor(r + 0.5) : -Math.floor(-r + 0.5)) + quant.zeroPoint();
    if (type == TensorType.INT8) {
      return (byte) Math.max(-128, Math.min(127, q));
    } else if (type == TensorType.UINT8) {
      return (byte) Math.max(0, Math.min(255, q));
    }
    throw new IllegalArgumentException("quantize needs int8 or uint8, got " + type.jsonName());
  }

  /**
   * Reads the first row (batch slot 0) of an output tensor as floats, dequantizing 8-bit outputs.
   * Reads with absolute indices from 0, so the buffer's position does not matter.
   */
  public static float[] readEmbedding(ByteBuffer out, TensorType type, QuantParams quant, int size) {
    if (size < 1) {
      throw new IllegalArgumentException("embedding size must be >= 1, got " + size);
    }
    if (out.capacity() < size * type.bytes()) {
      throw new IllegalArgumentException(
          "output buffer holds " + out.capacity() + " bytes, a " + size + "-d "
              + type.jsonName() + " embedding needs " + (size * type.bytes()));
    }
    float[] embedding = new float[size];
    for (int i = 0; i < size; i++) {
      switch (type) {
        case FLOAT32:
          embedding[i] = out.getFloat(i * 4);
          break;
        case INT8:
          embedding[i] = quant.scale() * (out.get(i) - quant.zeroPoint());
          break;
        default:
          embedding[i] = quant.scale() * ((out.get(i) & 0xff) - quant.zeroPoint());
      }
    }
    return embedding;
  }

  /** Turns Android-style packed ARGB ints (alpha ignored) into interleaved R, G, B bytes. */
  public static byte[] rgbFromArgb(int[] argb) {
    byte[] rgb = new byte[argb.length * 3];
    for (int i = 0; i < argb.length; i++) {
      int c = argb[i];
      rgb[3 * i] = (byte) (c >> 16);
      rgb[3 * i + 1] = (byte) (c >> 8);
      rgb[3 * i + 2] = (byte) c;
    }
    return rgb;
  }
}
