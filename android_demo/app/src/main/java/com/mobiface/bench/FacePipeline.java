// A raw photo to an embedding on the phone: detect (MTCNN), align (five points), embed, each timed.
package com.mobiface.bench;

import android.content.Context;
import android.graphics.Bitmap;
import android.os.SystemClock;
import com.mobiface.core.DetectedFace;
import com.mobiface.core.Delegate;
import com.mobiface.core.FaceAlignment;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.ModelMetadata;
import com.mobiface.core.MtcnnDetector;
import com.mobiface.core.TensorCodec;
import java.io.IOException;
import java.util.List;

/**
 * The desktop's photo path ({@code mobiface verify}) on the phone: {@link MtcnnDetector} over the
 * bundled networks ({@link MtcnnLite}), the largest face, {@link FaceAlignment} onto the model's
 * input size, then the embedding model of a {@link FaceModelHelper}. An image of exactly the
 * model's input size in which no face is found is taken as an already aligned crop (the bundled
 * samples and the crops of {@code mobiface-align} are). Not thread-safe: one worker thread.
 */
public final class FacePipeline implements AutoCloseable {
  /** One photo through the pipeline. */
  public static final class Result {
    /** The face used (the largest), or null when the image was taken as an aligned crop. */
    public final DetectedFace face;
    public final int facesFound;
    public final byte[] alignedRgb;
    public final int alignedSize;
    public final float[] embedding;
    public final double detectMs;
    public final double alignMs;
    public final double embedMs;

    Result(DetectedFace face, int facesFound, byte[] alignedRgb, int alignedSize, float[] embedding,
        double detectMs, double alignMs, double embedMs) {
      this.face = face;
      this.facesFound = facesFound;
      this.alignedRgb = alignedRgb;
      this.alignedSize = alignedSize;
      this.embedding = embedding;
      this.detectMs = detectMs;
      this.alignMs = alignMs;
      this.embedMs = embedMs;
    }
  }

  private final MtcnnLite networks;
  private final MtcnnDetector detector;
  private final FaceModelHelper embedder;
  private final boolean ownsEmbedder;

  /** A pipeline with its own embedder on the CPU. */
  public FacePipeline(Context context, ModelCatalog.Entry model, int threads) throws IOException {
    this(context, new FaceModelHelper(context, model, Delegate.CPU, threads, FaceModelHelper.QUIET), threads, true);
  }

  /** A pipeline embedding with {@code embedder} (kept open on {@link #close}). */
  public FacePipeline(Context context, FaceModelHelper embedder, int threads) throws IOException {
    this(context, embedder, threads, false);
  }

  private FacePipeline(Context context, FaceModelHelper embedder, int threads, boolean ownsEmbedder)
      throws IOException {
    this.networks = new MtcnnLite(context, threads);
    this.detector = new MtcnnDetector(networks);
    this.embedder = embedder;
    this.ownsEmbedder = ownsEmbedder;
  }

  public FaceModelHelper embedder() {
    return embedder;
  }

  /**
   * Detects, aligns and embeds the largest face of {@code photo}.
   *
   * @throws IllegalArgumentException when the photo holds no face (and is no aligned crop)
   */
  public Result run(Bitmap photo, String name) throws Exception {
    ModelMetadata metadata = embedder.entry().metadata();
    int width = photo.getWidth();
    int height = photo.getHeight();
    int[] argb = new int[width * height];
    photo.getPixels(argb, 0, width, 0, 0, width, height);
    byte[] rgb = TensorCodec.rgbFromArgb(argb);

    long start = SystemClock.elapsedRealtimeNanos();
    List<DetectedFace> faces = detector.detect(rgb, width, height);
    long detected = SystemClock.elapsedRealtimeNanos();
    DetectedFace face = MtcnnDetector.largest(faces);
    int size = metadata.width();
    byte[] aligned;
    if (face != null) {
      aligned = FaceAlignment.alignFace(rgb, width, height, face.landmarks5(), size);
    } else if (width == metadata.width() && height == metadata.height()) {
      aligned = rgb;
    } else {
      throw new IllegalArgumentException(name + ": no face found (" + width + "x" + height + ")");
    }
    long alignedAt = SystemClock.elapsedRealtimeNanos();
    float[] embedding = embedder.embedAligned(aligned);
    long embedded = SystemClock.elapsedRealtimeNanos();
    return new Result(face, faces.size(), aligned, size, embedding, (detected - start) / 1e6,
        (alignedAt - detected) / 1e6, (embedded - alignedAt) / 1e6);
  }

  @Override
  public void close() {
    networks.close();
    if (ownsEmbedder) {
      embedder.close();
    }
  }
}
