// A benchmark's result and its JSON form, field for field the one the desktop benchmark writes.
package com.mobiface.core;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One benchmark result. JSON fields: {@code model, precision, delegate, threads, runs, init_ms,
 * first_inference_ms, median_ms, p90_ms, mean_ms, device}, and {@code pipeline} (a {@link
 * PipelineStats} object: detect, align, embed and total on a raw photo) when the pipeline ran;
 * milliseconds are rounded to 0.1 us.
 * The app writes it as one line to a file and to logcat under {@link #LOG_TAG}.
 */
public final class BenchmarkResult {
  /** The logcat tag of the one parseable result line: {@code adb logcat -s MobiFaceBench}. */
  public static final String LOG_TAG = "MobiFaceBench";

  private final String model;
  private final String precision;
  private final String delegate;
  private final int threads;
  private final int runs;
  private final double initMs;
  private final double firstInferenceMs;
  private final double medianMs;
  private final double p90Ms;
  private final double meanMs;
  private final String device;
  private final PipelineStats pipeline;

  public BenchmarkResult(
      String model,
      String precision,
      String delegate,
      int threads,
      int runs,
      double initMs,
      double firstInferenceMs,
      double medianMs,
      double p90Ms,
      double meanMs,
      String device) {
    this(model, precision, delegate, threads, runs, initMs, firstInferenceMs, medianMs, p90Ms, meanMs, device,
        null);
  }

  private BenchmarkResult(String model, String precision, String delegate, int threads, int runs,
      double initMs, double firstInferenceMs, double medianMs, double p90Ms, double meanMs, String device,
      PipelineStats pipeline) {
    this.pipeline = pipeline;
    this.model = model;
    this.precision = precision;
    this.delegate = delegate;
    this.threads = threads;
    this.runs = runs;
    this.initMs = initMs;
    this.firstInferenceMs = firstInferenceMs;
    this.medianMs = medianMs;
    this.p90Ms = p90Ms;
    this.meanMs = meanMs;
    this.device = device;
  }

  /** Assembles a result from what a benchmark measured. */
  public static BenchmarkResult of(
      ModelMetadata metadata,
      BenchmarkRequest request,
      double initMs,
      BenchmarkLoop.Timings timings,
      String device) {
    LatencyStats stats = LatencyStats.of(timings.runsMs());
    return new BenchmarkResult(
        metadata.model(),
        metadata.precision(),
        request.delegate().jsonName(),
        request.threads(),
        stats.count(),
        initMs,
        timings.firstInferenceMs(),
        stats.median(),
        stats.p90(),
        stats.mean(),
        device);
  }

  /** This result with the face pipeline's stage latencies added. */
  public BenchmarkResult withPipeline(PipelineStats stats) {
    return new BenchmarkResult(model, precision, delegate, threads, runs, initMs, firstInferenceMs, medianMs,
        p90Ms, meanMs, device, stats);
  }

  /** The face pipeline's stage latencies, or null when it did not run. */
  public PipelineStats pipeline() {
    return pipeline;
  }

  /**
   * The result file's name: {@code <model>_<precision>_<delegate>_t<threads>_<stamp>.json}, with
   * every character outside {@code [A-Za-z0-9_.-]} replaced by {@code _}.
   */
  public String fileName(String stamp) {
    String name = String.format(Locale.ROOT, "%s_%s_%s_t%d_%s.json", model, precision, delegate, threads, stamp);
    return name.replaceAll("[^A-Za-z0-9_.-]", "_");
  }

  /** The result as one line of JSON, fields in the documented order. */
  public String toJson() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("model", model);
    map.put("precision", precision);
    map.put("delegate", delegate);
    map.put("threads", threads);
    map.put("runs", runs);
    map.put("init_ms", Json.roundMs(initMs));
    map.put("first_inference_ms", Json.roundMs(firstInferenceMs));
    map.put("median_ms", Json.roundMs(medianMs));
    map.put("p90_ms", Json.roundMs(p90Ms));
    map.put("mean_ms", Json.roundMs(meanMs));
    map.put("device", device);
    if (pipeline != null) {
      map.put("pipeline", pipeline.toMap());
    }
    return Json.write(map);
  }

  /** Reads a result back from its JSON (this app's or the desktop benchmark's). */
  public static BenchmarkResult fromJson(String text) {
    Map<String, Object> map = Json.parseObject(text);
    Object pipeline = map.get("pipeline");
    if (pipeline != null && !(pipeline instanceof Map)) {
      throw new IllegalArgumentException("result field \"pipeline\" must be an object, got "
          + Json.typeName(pipeline));
    }
    @SuppressWarnings("unchecked")
    PipelineStats stats = pipeline == null ? null : PipelineStats.fromMap((Map<String, Object>) pipeline);
    return new BenchmarkResult(
        Json.stringField(map, "model", "result"),
        Json.stringField(map, "precision", "result"),
        Json.stringField(map, "delegate", "result"),
        (int) Json.numberField(map, "threads", "result"),
        (int) Json.numberField(map, "runs", "result"),
        Json.numberField(map, "init_ms", "result"),
        Json.numberField(map, "first_inference_ms", "result"),
        Json.numberField(map, "median_ms", "result"),
        Json.numberField(map, "p90_ms", "result"),
        Json.numberField(map, "mean_ms", "result"),
        Json.stringField(map, "device", "result"),
        stats);
  }

  /** A few lines for the screen. */
  public String summary() {
    return String.format(
        Locale.ROOT,
        "%s / %s on %s, %d thread(s), %d runs\n"
            + "init %.2f ms, first inference %.2f ms\n"
            + "median %.3f ms, p90 %.3f ms, mean %.3f ms\n%s",
        model, precision, delegate, threads, runs, initMs, firstInferenceMs, medianMs, p90Ms, meanMs,
        device) + (pipeline == null ? "" : "\n" + pipeline.summary());
  }

  public String model() {
    return model;
  }

  public String precision() {
    return precision;
  }

  public String delegate() {
    return delegate;
  }

  public int threads() {
    return threads;
  }

  public int runs() {
    return runs;
  }

  public double initMs() {
    return initMs;
  }

  public double firstInferenceMs() {
    return firstInferenceMs;
  }

  public double medianMs() {
    return medianMs;
  }

  public double p90Ms() {
    return p90Ms;
  }

  public double meanMs() {
    return meanMs;
  }

  public String device() {
    return device;
  }
}
