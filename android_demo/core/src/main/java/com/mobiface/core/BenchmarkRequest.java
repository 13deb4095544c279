// One benchmark's settings, checked once, whether they come from the screen or from intent extras.
package com.mobiface.core;

/** Model, precision, delegate, threads, warm-up and timed runs of one benchmark. */
public final class BenchmarkRequest {
  /** At least 200 timed runs, as the desktop benchmark. */
  public static final int DEFAULT_RUNS = 200;

  public static final int DEFAULT_WARMUP = 20;
  public static final int DEFAULT_THREADS = 1;
  static final int MAX_THREADS = 64;
  static final int MAX_RUNS = 100_000;

  private final String model;
  private final String precision;
  private final Delegate delegate;
  private final int threads;
  private final int runs;
  private final int warmup;

  /**
   * Checks every setting; the error names the setting and the received value.
   *
   * @param precision may be null: the catalog then prefers float32
   */
  public BenchmarkRequest(
      String model, String precision, Delegate delegate, int threads, int runs, int warmup) {
    if (model == null || model.trim().isEmpty()) {
      throw new IllegalArgumentException("model is required (e.g. --es model mobiface)");
    }
    if (delegate == null) {
      throw new IllegalArgumentException("delegate is required");
    }
    if (threads < 1 || threads > MAX_THREADS) {
      throw new IllegalArgumentException("threads must lie in 1.." + MAX_THREADS + ", got " + threads);
    }
    if (runs < 1 || runs > MAX_RUNS) {
      throw new IllegalArgumentException("runs must lie in 1.." + MAX_RUNS + ", got " + runs);
    }
    if (warmup < 0 || warmup > MAX_RUNS) {
      throw new IllegalArgumentException("warmup must lie in 0.." + MAX_RUNS + ", got " + warmup);
    }
    this.model = model.trim();
    this.precision = precision == null || precision.trim().isEmpty() ? null : precision.trim();
    this.delegate = delegate;
    this.threads = threads;
    this.runs = runs;
    this.warmup = warmup;
  }

  /**
   * Builds a request from loosely typed values such as intent extras: null means "the default"
   * (delegate cpu, {@value #DEFAULT_THREADS} thread, {@value #DEFAULT_RUNS} runs,
   * {@value #DEFAULT_WARMUP} warm-up runs).
   */
  public static BenchmarkRequest fromExtras(
      String model, String precision, String delegate, Integer threads, Integer runs, Integer warmup) {
    return new BenchmarkRequest(
        model,
        precision,
        delegate == null ? Delegate.CPU : Delegate.parse(delegate),
        threads == null ? DEFAULT_THREADS : threads,
        runs == null ? DEFAULT_RUNS : runs,
        warmup == null ? DEFAULT_WARMUP : warmup);
  }

  public String model() {
    return model;
  }

  /** The wanted precision, or null for the catalog's default. */
  public String precision() {
    return precision;
  }

  public Delegate delegate() {
    return delegate;
  }

  public int threads() {
    return threads;
  }

  public int runs() {
    return runs;
  }

  public int warmup() {
    return warmup;
  }
}
