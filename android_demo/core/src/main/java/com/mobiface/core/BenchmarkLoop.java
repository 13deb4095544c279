// The timing protocol of a benchmark: first inference, warm-up, then timed runs on a monotonic clock.
package com.mobiface.core;

/**
 * Times one inference step repeatedly. The clock is passed in so the app can use
 * {@code SystemClock.elapsedRealtimeNanos()} and tests a fake one; it must be monotonic (never
 * wall-clock time, which can jump).
 */
public final class BenchmarkLoop {
  /** A monotonic nanosecond clock. */
  public interface Clock {
    long nanos();
  }

  /** A step that may fail, such as one interpreter run. */
  public interface Step {
    void run() throws Exception;
  }

  /** What one loop measured. */
  public static final class Timings {
    private final double firstInferenceMs;
    private final double[] runsMs;

    Timings(double firstInferenceMs, double[] runsMs) {
      this.firstInferenceMs = firstInferenceMs;
      this.runsMs = runsMs;
    }

    /** The very first run after initialization (delegates often compile or upload here). */
    public double firstInferenceMs() {
      return firstInferenceMs;
    }

    /** The timed runs after the warm-up, in order. */
    public double[] runsMs() {
      return runsMs.clone();
    }
  }

  private BenchmarkLoop() {}

  /** Milliseconds one call of the step takes. */
  public static double timeMs(Clock clock, Step step) throws Exception {
    long start = clock.nanos();
    step.run();
    return (clock.nanos() - start) / 1e6;
  }

  /**
   * Runs the step once (timed as the first inference), {@code warmup} more times untimed, then
   * {@code runs} timed times.
   */
  public static Timings measure(Clock clock, Step step, int warmup, int runs) throws Exception {
    if (warmup < 0) {
      throw new IllegalArgumentException("warm-up runs must be >= 0, got " + warmup);
    }
    if (runs < 1) {
      throw new IllegalArgumentException("timed runs must be >= 1, got " + runs);
    }
    double first = timeMs(clock, step);
    for (int i = 0; i < warmup; i++) {
      step.run();
    }
    double[] timed = new double[runs];
    for (int i = 0; i < runs; i++) {
      timed[i] = timeMs(clock, step);
    }
    return new Timings(first, timed);
  }
}
