package com.mobiface.bench;

import org.tensorflow.lite.InterpreterApi;

/**
 * What the JVM stand-ins for LiteRT's interpreter share: one input, tensors allocated on demand,
 * no native timing, nothing to close; a strict resize is a resize.
 */
abstract class FakeInterpreterBase implements InterpreterApi {
  @Override
  public void resizeInput(int idx, int[] dims, boolean strict) {
    resizeInput(idx, dims);
  }

  @Override
  public void allocateTensors() {}

  @Override
  public int getInputTensorCount() {
    return 1;
  }

  @Override
  public int getInputIndex(String opName) {
    return 0;
  }

  @Override
  public int getOutputIndex(String opName) {
    return 0;
  }

  @Override
  public Long getLastNativeInferenceDurationNanoseconds() {
    return null;
  }

  @Override
  public void close() {}
}
