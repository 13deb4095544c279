// A stand-in for LiteRT's interpreter with the bundled model's tensors, for JVM tests.
package com.mobiface.bench;

import java.nio.ByteBuffer;
import java.util.Map;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Tensor;

/**
 * Has the bundled int8 MobiFace's signature (uint8 [1, 112, 112, 3] in, scale 1 and zero point 0;
 * float32 [1, 192] out) and counts runs; each run checks the input's size and writes a fixed
 * embedding.
 */
final class FakeInterpreter extends FakeInterpreterBase {
  final int modelBytes;
  final int threads;
  int runs;
  private final FakeTensor input =
      new FakeTensor(DataType.UINT8, new int[] {1, 112, 112, 3}, new Tensor.QuantizationParams(1f, 0), "input");
  private final FakeTensor output =
      new FakeTensor(DataType.FLOAT32, new int[] {1, 192}, new Tensor.QuantizationParams(0f, 0), "embedding");

  FakeInterpreter(ByteBuffer model, int threads) {
    this.modelBytes = model.capacity();
    this.threads = threads;
  }

  @Override
  public void run(Object in, Object out) {
    ByteBuffer inBuffer = (ByteBuffer) in;
    ByteBuffer outBuffer = (ByteBuffer) out;
    if (inBuffer.remaining() != input.numBytes()) {
      throw new IllegalArgumentException("input of " + inBuffer.remaining() + " bytes, want " + input.numBytes());
    }
    for (int i = 0; i < 192; i++) {
      outBuffer.putFloat(i % 2 == 0 ? 0.5f : -0.25f);
    }
    runs++;
  }

  @Override
  public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void resizeInput(int idx, int[] dims) {
    throw new UnsupportedOperationException("the bundled model has a static batch of 1");
  }

  @Override
  public Tensor getInputTensor(int inputIndex) {
    return input;
  }

  @Override
  public int getOutputTensorCount() {
    return 1;
  }

  @Override
  public Tensor getOutputTensor(int outputIndex) {
    return output;
  }
}
