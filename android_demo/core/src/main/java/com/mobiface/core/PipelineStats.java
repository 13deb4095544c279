// Latency of the whole face pipeline on one photo, stage by stage: detect, align, embed, total.
package com.mobiface.core;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Medians over timed runs of the pipeline a raw photo goes through: detection (MTCNN, with the
 * pyramid and crops), five-point alignment, embedding, and their total (each run's sum, so the
 * total's median is that of whole runs). JSON: {@code {"photo", "width", "height", "faces",
 * "runs", "detect_ms", "align_ms", "embed_ms", "total_ms"}}, the same fields as the desktop's
 * {@code make bench} pipeline rows.
 */
public final class PipelineStats {
  private final String photo;
  private final int width;
  private final int height;
  private final int faces;
  private final int runs;
  private final double detectMs;
  private final double alignMs;
  private final double embedMs;
  private final double totalMs;

  public PipelineStats(String photo, int width, int height, int faces, int runs, double detectMs,
      double alignMs, double embedMs, double totalMs) {
    this.photo = photo;
    this.width = width;
    this.height = height;
    this.faces = faces;
    this.runs = runs;
    this.detectMs = detectMs;
    this.alignMs = alignMs;
    this.embedMs = embedMs;
    this.totalMs = totalMs;
  }

  /** Medians of per-run stage latencies (three arrays of the same length, one entry per run). */
  public static PipelineStats of(String photo, int width, int height, int faces, double[] detectMs,
      double[] alignMs, double[] embedMs) {
    if (detectMs.length == 0 || alignMs.length != detectMs.length || embedMs.length != detectMs.length) {
      throw new IllegalArgumentException("need the same number (> 0) of detect, align and embed timings, got "
          + detectMs.length + ", " + alignMs.length + ", " + embedMs.length);
    }
    double[] total = new double[detectMs.length];
    for (int i = 0; i < total.length; i++) {
      total[i] = detectMs[i] + alignMs[i] + embedMs[i];
    }
    return new PipelineStats(photo, width, height, faces, total.length, LatencyStats.of(detectMs).median(),
        LatencyStats.of(alignMs).median(), LatencyStats.of(embedMs).median(), LatencyStats.of(total).median());
  }

  public int runs() {
    return runs;
  }

  public int faces() {
    return faces;
  }

  public double detectMs() {
    return detectMs;
  }

  public double alignMs() {
    return alignMs;
  }

  public double embedMs() {
    return embedMs;
  }

  public double totalMs() {
    return totalMs;
  }

  /** The JSON object's fields, in the documented order. */
  public Map<String, Object> toMap() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("photo", photo);
    map.put("width", width);
    map.put("height", height);
    map.put("faces", faces);
    map.put("runs", runs);
    map.put("detect_ms", Json.roundMs(detectMs));
    map.put("align_ms", Json.roundMs(alignMs));
    map.put("embed_ms", Json.roundMs(embedMs));
    map.put("total_ms", Json.roundMs(totalMs));
    return map;
  }

  /** Reads the object {@link #toMap} writes. */
  public static PipelineStats fromMap(Map<String, Object> map) {
    return new PipelineStats(Json.stringField(map, "photo", "pipeline"), (int) Json.numberField(map, "width", "pipeline"), (int) Json.numberField(map, "height", "pipeline"),
        (int) Json.numberField(map, "faces", "pipeline"), (int) Json.numberField(map, "runs", "pipeline"), Json.numberField(map, "detect_ms", "pipeline"),
        Json.numberField(map, "align_ms", "pipeline"), Json.numberField(map, "embed_ms", "pipeline"), Json.numberField(map, "total_ms", "pipeline"));
  }

  /** One line for the screen. */
  public String summary() {
    return String.format(Locale.ROOT,
        "photo %s (%dx%d, %d face(s)), median of %d runs:\ndetect %.2f ms, align %.2f ms, embed %.2f ms, total %.2f ms",
        photo, width, height, faces, runs, detectMs, alignMs, embedMs, totalMs);
  }
}
