package com.mobiface.bench;

import java.nio.ByteBuffer;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Tensor;

/** A tensor description for the JVM stand-ins of LiteRT's interpreter (no native library). */
final class FakeTensor implements Tensor {
  private final DataType type;
  private final int[] shape;
  private final QuantizationParams quantization;
  private final String name;

  FakeTensor(DataType type, int[] shape, QuantizationParams quantization, String name) {
    this.type = type;
    this.shape = shape;
    this.quantization = quantization;
    this.name = name;
  }

  @Override
  public DataType dataType() {
    return type;
  }

  @Override
  public int numDimensions() {
    return shape.length;
  }

  @Override
  public int numBytes() {
    return numElements() * type.byteSize();
  }

  @Override
  public int numElements() {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  @Override
  public int[] shapeSignature() {
    return shape.clone();
  }

  @Override
  public int index() {
    return 0;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public QuantizationParams quantizationParams() {
    return quantization;
  }

  @Override
  public ByteBuffer asReadOnlyBuffer() {
    throw new UnsupportedOperationException();
  }
}
