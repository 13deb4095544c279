// The bundled P-, R- and O-Net .tflite files on LiteRT, behind the core's MtcnnNetworks.
package com.mobiface.bench;

import android.content.Context;
import com.mobiface.core.MtcnnDetector;
import com.mobiface.core.MtcnnNetworks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.InterpreterApi;
import org.tensorflow.lite.Tensor;

/**
 * mtcnn 1.0's three networks (assets/mtcnn/, copied from {@code mobiface_tf/assets/mtcnn} by
 * tools/sync-assets.sh) on the CPU with XNNPACK: one interpreter per network, its input resized
 * to each pyramid level or crop batch (P-Net takes any height and width, R- and O-Net any batch).
 * The outputs are told apart by their last dimension (4: box regression, 2: face probability,
 * 10: landmarks), as the Python detector does. Not thread-safe.
 */
public final class MtcnnLite implements MtcnnNetworks, AutoCloseable {
  /** The asset folder of the three networks. */
  public static final String ASSETS = "mtcnn";

  /** Makes the interpreter of one network ({@code "pnet"}, {@code "rnet"}, {@code "onet"}). */
  interface NetworkFactory {
    InterpreterApi create(String network, ByteBuffer model, Interpreter.Options options);
  }

  static final NetworkFactory LITERT =
      new NetworkFactory() {
        @Override
        public InterpreterApi create(String network, ByteBuffer model, Interpreter.Options options) {
          return new Interpreter(model, options);
        }
      };

  /** Replaced only by the JVM tests of the activities, which cannot load LiteRT's native library. */
  static volatile NetworkFactory networkFactory = LITERT;

  private final InterpreterApi pnet;
  private final InterpreterApi rnet;
  private final InterpreterApi onet;

  /** Loads the three networks from the APK's assets with {@code threads} CPU threads each. */
  public MtcnnLite(Context context, int threads) throws IOException {
    pnet = open(context, "pnet", threads);
    InterpreterApi r = null;
    InterpreterApi o = null;
    try {
      r = open(context, "rnet", threads);
      o = open(context, "onet", threads);
    } catch (IOException | RuntimeException e) {
      pnet.close();
      if (r != null) {
        r.close();
      }
      throw e;
    }
    rnet = r;
    onet = o;
  }

  /** Whether the APK carries the three networks. */
  public static boolean bundled(Context context) {
    try {
      String[] names = context.getAssets().list(ASSETS);
      return names != null && Arrays.asList(names).containsAll(Arrays.asList("pnet.tflite", "rnet.tflite", "onet.tflite"));
    } catch (IOException e) {
      return false;
    }
  }

  private static InterpreterApi open(Context context, String network, int threads) throws IOException {
    Interpreter.Options options = new Interpreter.Options();
    options.setNumThreads(threads);
    options.setUseXNNPACK(true);
    return networkFactory.create(network, AssetModels.map(context.getAssets(), ASSETS + "/" + network + ".tflite"), options);
  }

  @Override
  public GridOutput pnet(float[] level, int height, int width) {
    Map<Integer, float[]> out = run(pnet, "P-Net", level, new int[] {1, height, width, 3});
    int[] shape = shapeOf(pnet, 2);
    return new GridOutput(shape[1], shape[2], out.get(4), out.get(2));
  }

  @Override
  public BatchOutput rnet(float[] crops, int count) {
    int side = MtcnnDetector.RNET_SIZE;
    Map<Integer, float[]> out = run(rnet, "R-Net", crops, new int[] {count, side, side, 3});
    return new BatchOutput(count, out.get(4), out.get(2), null);
  }

  @Override
  public BatchOutput onet(float[] crops, int count) {
    int side = MtcnnDetector.ONET_SIZE;
    Map<Integer, float[]> out = run(onet, "O-Net", crops, new int[] {count, side, side, 3});
    return new BatchOutput(count, out.get(4), out.get(2), out.get(10));
  }

  /** Resizes the input to {@code shape}, runs, and returns each output by its last dimension. */
  private static Map<Integer, float[]> run(InterpreterApi interpreter, String name, float[] input, int[] shape) {
    interpreter.resizeInput(0, shape);
    interpreter.allocateTensors();
    ByteBuffer in = ByteBuffer.allocateDirect(input.length * 4).order(ByteOrder.nativeOrder());
    in.asFloatBuffer().put(input);
    int outputs = interpreter.getOutputTensorCount();
    Map<Integer, Object> buffers = new HashMap<>();
    for (int i = 0; i < outputs; i++) {
      buffers.put(i, ByteBuffer.allocateDirect(interpreter.getOutputTensor(i).numBytes()).order(ByteOrder.nativeOrder()));
    }
    interpreter.runForMultipleInputsOutputs(new Object[] {in}, buffers);
    Map<Integer, float[]> byWidth = new HashMap<>();
    for (int i = 0; i < outputs; i++) {
      Tensor tensor = interpreter.getOutputTensor(i);
      int[] outShape = tensor.shape();
      int width = outShape[outShape.length - 1];
      ByteBuffer buffer = (ByteBuffer) buffers.get(i);
      buffer.rewind();
      float[] values = new float[tensor.numElements()];
      buffer.asFloatBuffer().get(values);
      if (byWidth.put(width, values) != null) {
        throw new IllegalStateException(name + " has two outputs of width " + width);
      }
    }
    return byWidth;
  }

  /** The shape of the output whose last dimension is {@code width}. */
  private static int[] shapeOf(InterpreterApi interpreter, int width) {
    for (int i = 0; i < interpreter.getOutputTensorCount(); i++) {
      int[] shape = interpreter.getOutputTensor(i).shape();
      if (shape[shape.length - 1] == width) {
        return shape;
      }
    }
    throw new IllegalStateException("no output of width " + width);
  }

  @Override
  public void close() {
    pnet.close();
    rnet.close();
    onet.close();
  }
}
