// A stand-in for LiteRT running one of the MTCNN networks, for JVM tests: shapes right, one face.
package com.mobiface.bench;

import java.nio.ByteBuffer;
import java.util.Map;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Tensor;

/**
 * Has the shapes of mtcnn's P-Net (free height and width, a grid of 12x12 windows at stride 2), R-
 * and O-Net (free batch) and answers so that the detector finds one face: P-Net sees a face in
 * the grid's top-left window only, R- and O-Net accept every crop without moving it, and O-Net
 * puts the five landmarks where a frontal face has them.
 */
final class FakeMtcnnInterpreter extends FakeInterpreterBase {
  /** O-Net's landmarks as fractions of the crop: five x's then five y's. */
  static final float[] LANDMARKS = {0.32f, 0.68f, 0.5f, 0.36f, 0.64f, 0.42f, 0.42f, 0.6f, 0.78f, 0.78f};

  final String network;
  final int threads;
  int runs;
  private int[] inputShape;

  FakeMtcnnInterpreter(String network, int threads) {
    this.network = network;
    this.threads = threads;
  }

  @Override
  public void resizeInput(int idx, int[] dims) {
    inputShape = dims.clone();
  }

  private int[] outputShape(int width) {
    if (network.equals("pnet")) {
      return new int[] {1, (inputShape[1] - 12) / 2 + 1, (inputShape[2] - 12) / 2 + 1, width};
    }
    return new int[] {inputShape[0], width};
  }

  private int[] widths() {
    return network.equals("onet") ? new int[] {4, 10, 2} : new int[] {4, 2};
  }

  @Override
  public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) {
    ByteBuffer in = (ByteBuffer) inputs[0];
    int expected = 4;
    for (int d : inputShape) {
      expected *= d;
    }
    if (in.capacity() != expected) {
      throw new IllegalArgumentException(network + ": input of " + in.capacity() + " bytes, want " + expected);
    }
    int[] widths = widths();
    for (int i = 0; i < widths.length; i++) {
      ByteBuffer out = (ByteBuffer) outputs.get(i);
      int rows = getOutputTensor(i).numElements() / widths[i];
      for (int r = 0; r < rows; r++) {
        for (int k = 0; k < widths[i]; k++) {
          out.putFloat(value(widths[i], r, k));
        }
      }
    }
    runs++;
  }

  private float value(int width, int row, int k) {
    if (width == 2) {
      float face = network.equals("pnet") ? (row == 0 ? 0.95f : 0.05f) : 0.99f;
      return k == 1 ? face : 1f - face;
    }
    return width == 10 ? LANDMARKS[k] : 0f;
  }

  @Override
  public void run(Object in, Object out) {
    throw new UnsupportedOperationException("MtcnnLite runs with runForMultipleInputsOutputs");
  }

  @Override
  public Tensor getInputTensor(int inputIndex) {
    return new FakeTensor(DataType.FLOAT32, inputShape, new Tensor.QuantizationParams(0f, 0), "input");
  }

  @Override
  public int getOutputTensorCount() {
    return widths().length;
  }

  @Override
  public Tensor getOutputTensor(int outputIndex) {
    return new FakeTensor(DataType.FLOAT32, outputShape(widths()[outputIndex]), new Tensor.QuantizationParams(0f, 0), "output");
  }
}
