// Owns the LiteRT interpreter of one bundled model: the delegate choice, feeding, timing, results.
package com.mobiface.bench;

import android.content.Context;
import android.os.Build;
import android.os.SystemClock;
import com.mobiface.core.BenchmarkLoop;
import com.mobiface.core.BenchmarkRequest;
import com.mobiface.core.BenchmarkResult;
import com.mobiface.core.Delegate;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.ModelMetadata;
import com.mobiface.core.QuantParams;
import com.mobiface.core.TensorCodec;
import com.mobiface.core.TensorType;
import com.mobiface.core.Verification;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.InterpreterApi;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;
import org.tensorflow.lite.nnapi.NnApiDelegate;

/**
 * One model on one delegate, after the pattern of TensorFlow's {@code ImageClassifierHelper}: it
 * creates the interpreter with the chosen delegate, feeds aligned faces as the model's metadata
 * says, times runs on a monotonic clock and reports through a {@link Listener}. Screens only show
 * what it reports. Not thread-safe: call it from one worker thread.
 */
public final class FaceModelHelper implements AutoCloseable {
  /** Receives results on the calling (worker) thread; screens post them to the UI thread. */
  public interface Listener {
    void onError(String message);

    default void onBenchmarkResult(BenchmarkResult result) {}

    default void onVerification(Verification verification) {}
  }

  /** A listener for callers that take results as return values ({@link #embedAligned}). */
  static final Listener QUIET =
      new Listener() {
        @Override
        public void onError(String message) {}
      };

  /** Makes the interpreter of a loaded model. */
  interface InterpreterFactory {
    InterpreterApi create(ByteBuffer model, Interpreter.Options options);
  }

  /** LiteRT's interpreter: what the app always uses. */
  static final InterpreterFactory LITERT =
      new InterpreterFactory() {
        @Override
        public InterpreterApi create(ByteBuffer model, Interpreter.Options options) {
          return new Interpreter(model, options);
        }
      };

  /**
   * Replaced only by the JVM tests of the activities (app/src/test), which cannot load LiteRT's
   * native library; everything around the interpreter stays real there.
   */
  static volatile InterpreterFactory interpreterFactory = LITERT;

  // Anonymous classes, not lambdas or method references: Debian's dx (the registry build's
  // dexer) cannot desugar those (see minSdk in gradle/libs.versions.toml).
  private static final BenchmarkLoop.Clock CLOCK =
      new BenchmarkLoop.Clock() {
        @Override
        public long nanos() {
          return SystemClock.elapsedRealtimeNanos();
        }
      };

  private final BenchmarkLoop.Step setUpStep =
      new BenchmarkLoop.Step() {
        @Override
        public void run() throws IOException {
          setUp();
        }
      };

  private final BenchmarkLoop.Step inferenceStep =
      new BenchmarkLoop.Step() {
        @Override
        public void run() {
          runOnce();
        }
      };

  private final Context context;
  private final ModelCatalog.Entry entry;
  private final Delegate delegate;
  private final int threads;
  private final Listener listener;

  private InterpreterApi interpreter;
  private GpuDelegate gpuDelegate;
  private NnApiDelegate nnApiDelegate;
  private ByteBuffer input;
  private ByteBuffer output;
  private QuantParams inputQuant;
  private QuantParams outputQuant;
  private TensorType outputType;
  private int batch;
  private double initMs;

  public FaceModelHelper(
      Context context, ModelCatalog.Entry entry, Delegate delegate, int threads, Listener listener) {
    this.context = context.getApplicationContext();
    this.entry = entry;
    this.delegate = delegate;
    this.threads = threads;
    this.listener = listener;
  }

  public ModelCatalog.Entry entry() {
    return entry;
  }

  public Delegate delegate() {
    return delegate;
  }

  public int threads() {
    return threads;
  }

  /**
   * Creates a fresh interpreter (timed as the initialization), runs the first inference, the
   * warm-up and the timed runs on {@code face}, and reports a {@link BenchmarkResult}.
   */
  public void benchmark(BenchmarkRequest request, byte[] face) {
    try {
      close();
      initMs = BenchmarkLoop.timeMs(CLOCK, setUpStep);
      fill(face);
      BenchmarkLoop.Timings timings =
          BenchmarkLoop.measure(CLOCK, inferenceStep, request.warmup(), request.runs());
      listener.onBenchmarkResult(
          BenchmarkResult.of(entry.metadata(), request, initMs, timings, deviceDescription()));
    } catch (Exception | LinkageError e) {
      listener.onError(describe(e));
    }
  }

  /** Embeds two aligned faces and reports their cosine and the threshold decision. */
  public void verify(byte[] faceA, byte[] faceB) {
    try {
      if (interpreter == null) {
        setUp();
      }
      float[] a = embed(faceA);
      float[] b = embed(faceB);
      listener.onVerification(Verification.of(a, b, entry.metadata()));
    } catch (Exception | LinkageError e) {
      listener.onError(describe(e));
    }
  }

  /**
   * The embedding of one aligned face (RGB bytes of the model's input size), creating the
   * interpreter on the first call; errors are thrown, not reported.
   */
  public float[] embedAligned(byte[] face) throws Exception {
    if (interpreter == null) {
      setUp();
    }
    return embed(face);
  }

  private float[] embed(byte[] face) throws Exception {
    fill(face);
    runOnce();
    return TensorCodec.readEmbedding(
        output, outputType, outputQuant, entry.metadata().embeddingSize());
  }

  private void fill(byte[] face) {
    input.clear();
    TensorCodec.fillInput(face, entry.metadata(), inputQuant, input, batch);
  }

  /** One timed step: copy the prepared input in, invoke, copy the output out. */
  private void runOnce() {
    input.rewind();
    output.rewind();
    interpreter.run(input, output);
  }

  private void setUp() throws IOException {
    ModelMetadata metadata = entry.metadata();
    Interpreter.Options options = new Interpreter.Options();
    options.setNumThreads(threads);
    switch (delegate) {
      case CPU:
        options.setUseXNNPACK(true);
        break;
      case GPU:
        CompatibilityList compatibility = new CompatibilityList();
        if (!compatibility.isDelegateSupportedOnThisDevice()) {
          compatibility.close();
          throw new IllegalStateException("the GPU delegate does not support this device's GPU");
        }
        gpuDelegate = new GpuDelegate(compatibility.getBestOptionsForThisDevice());
        compatibility.close();
        options.addDelegate(gpuDelegate);
        break;
      case NNAPI:
        nnApiDelegate = new NnApiDelegate();
        options.addDelegate(nnApiDelegate);
        break;
    }
    interpreter = interpreterFactory.create(AssetModels.map(context.getAssets(), entry.modelFile()), options);

    Tensor in = interpreter.getInputTensor(0);
    int[] shape = in.shape();
    if (shape.length != 4
        || shape[1] != metadata.height()
        || shape[2] != metadata.width()
        || shape[3] != metadata.channels()) {
      throw new IllegalStateException(
          "input shape " + Arrays.toString(shape) + " does not match the metadata's "
              + metadata.height() + "x" + metadata.width() + "x" + metadata.channels());
    }
    if (shape[0] < 1) {
      // A dynamic batch dimension: run one face at a time.
      interpreter.resizeInput(0, new int[] {1, shape[1], shape[2], shape[3]});
      interpreter.allocateTensors();
      in = interpreter.getInputTensor(0);
    }
    batch = in.shape()[0];
    TensorType inputType = tensorType(in.dataType(), "input");
    if (inputType != metadata.dtype()) {
      throw new IllegalStateException(
          "the metadata says a " + metadata.dtype().jsonName() + " input, the model has "
              + inputType.jsonName());
    }
    inputQuant = quantParams(in, inputType);

    Tensor out = interpreter.getOutputTensor(0);
    int[] outShape = out.shape();
    if (outShape[outShape.length - 1] != metadata.embeddingSize()) {
      throw new IllegalStateException(
          "output shape " + Arrays.toString(outShape) + " does not end in the metadata's "
              + "embedding_size " + metadata.embeddingSize());
    }
    outputType = tensorType(out.dataType(), "output");
    outputQuant = quantParams(out, outputType);
    input = ByteBuffer.allocateDirect(in.numBytes()).order(ByteOrder.nativeOrder());
    output = ByteBuffer.allocateDirect(out.numBytes()).order(ByteOrder.nativeOrder());
  }

  private static TensorType tensorType(DataType type, String which) {
    switch (type) {
      case FLOAT32:
        return TensorType.FLOAT32;
      case INT8:
        return TensorType.INT8;
      case UINT8:
        return TensorType.UINT8;
      default:
        throw new IllegalStateException("unsupported " + which + " tensor type " + type);
    }
  }

  private static QuantParams quantParams(Tensor tensor, TensorType type) {
    if (!type.isQuantized()) {
      return QuantParams.NONE;
    }
    Tensor.QuantizationParams q = tensor.quantizationParams();
    return new QuantParams(q.getScale(), q.getZeroPoint());
  }

  private String describe(Throwable e) {
    String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return entry.modelFile() + " on " + delegate.jsonName() + ": " + what;
  }

  /** Maker, model, Android release, chip (where the platform tells) and ABI, for result files. */
  public static String deviceDescription() {
    StringBuilder out = new StringBuilder();
    out.append(Build.MANUFACTURER).append(' ').append(Build.MODEL)
        .append(" (Android ").append(Build.VERSION.RELEASE)
        .append(", API ").append(Build.VERSION.SDK_INT);
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
      out.append(", ").append(Build.SOC_MANUFACTURER).append(' ').append(Build.SOC_MODEL);
    }
    out.append(", ").append(Build.SUPPORTED_ABIS[0]).append(')');
    return out.toString();
  }

  /** Frees the interpreter and its delegate; the next benchmark or verification makes new ones. */
  @Override
  public void close() {
    if (interpreter != null) {
      interpreter.close();
      interpreter = null;
    }
    if (gpuDelegate != null) {
      gpuDelegate.close();
      gpuDelegate = null;
    }
    if (nnApiDelegate != null) {
      nnApiDelegate.close();
      nnApiDelegate = null;
    }
  }
}
