// One benchmark's settings, checked once, whether they come from the screen or from intent extras.
package com.mobiface.core;

import java.util.Map;

/** Model, precision, delegate, threads, warm-up and timed runs of one benchmark. */
public final class BenchmarkRequest {
  /**
   * The intent extras of the headless benchmark:
   * {@code adb shell am start -n com.mobiface.bench/.BenchmarkActivity --es model mobiface ...}.
   */
  public static final String EXTRA_MODEL = "model";

  public static final String EXTRA_PRECISION = "precision";
  public static final String EXTRA_DELEGATE = "delegate";
  public static final String EXTRA_THREADS = "threads";
  public static final String EXTRA_RUNS = "runs";
  public static final String EXTRA_WARMUP = "warmup";

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

  /**
   * Builds a request from intent extras as adb delivers them ({@link #EXTRA_MODEL} and the
   * others): text from {@code --es}, whole numbers from {@code --ei} or as text; absent extras
   * take the defaults. Errors name the extra and the value received.
   */
  public static BenchmarkRequest fromExtras(Map<String, ?> extras) {
    return fromExtras(
        textExtra(extras, EXTRA_MODEL),
        textExtra(extras, EXTRA_PRECISION),
        textExtra(extras, EXTRA_DELEGATE),
        intExtra(extras, EXTRA_THREADS),
        intExtra(extras, EXTRA_RUNS),
        intExtra(extras, EXTRA_WARMUP));
  }

  private static String textExtra(Map<String, ?> extras, String key) {
    Object value = extras.get(key);
    return value == null ? null : value.toString();
  }

  private static Integer intExtra(Map<String, ?> extras, String key) {
    Object value = extras.get(key);
    if (value == null) {
      return null;
    }
    if (value instanceof Integer) {
      return (Integer) value;
    }
    if (value instanceof Long || value instanceof Short || value instanceof Byte) {
      long n = ((Number) value).longValue();
      if (n == (int) n) {
        return (int) n;
      }
    }
    try {
      return Integer.parseInt(value.toString().trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a whole number, got \"" + value + "\"");
    }
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
