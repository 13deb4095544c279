// Summary statistics of timed inference runs: median, p90, mean, min, max.
package com.mobiface.core;

import java.util.Arrays;

/**
 * Latency summary in milliseconds.
 *
 * <p>Percentiles interpolate linearly between the closest ranks, the definition of
 * {@code numpy.percentile(x, q)} (method "linear") that the desktop benchmark uses: with the n
 * samples sorted as x[0..n-1], h = (n - 1) * q / 100 and
 * p_q = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]). The median is p50.
 */
public final class LatencyStats {
  private final int count;
  private final double median;
  private final double p90;
  private final double mean;
  private final double min;
  private final double max;

  private LatencyStats(double[] sorted) {
    this.count = sorted.length;
    this.median = percentileOfSorted(sorted, 50);
    this.p90 = percentileOfSorted(sorted, 90);
    double sum = 0;
    for (double x : sorted) {
      sum += x;
    }
    this.mean = sum / sorted.length;
    this.min = sorted[0];
    this.max = sorted[sorted.length - 1];
  }

  /** Summarizes latencies in milliseconds; refuses an empty, negative or non-finite sample. */
  public static LatencyStats of(double[] latenciesMs) {
    if (latenciesMs == null || latenciesMs.length == 0) {
      throw new IllegalArgumentException("latency statistics need at least one run");
    }
    for (double x : latenciesMs) {
      if (!(x >= 0) || Double.isInfinite(x)) {
        throw new IllegalArgumentException("latencies must be finite and >= 0, got " + x);
      }
    }
    double[] sorted = latenciesMs.clone();
    Arrays.sort(sorted);
    return new LatencyStats(sorted);
  }

  /** The q-th percentile (0..100) of an ascending array, by linear interpolation. */
  public static double percentileOfSorted(double[] sorted, double q) {
    if (sorted.length == 0) {
      throw new IllegalArgumentException("percentile of an empty sample");
    }
    if (!(q >= 0 && q <= 100)) {
      throw new IllegalArgumentException("percentile must lie in 0..100, got " + q);
    }
    double h = (sorted.length - 1) * q / 100.0;
    int lo = (int) Math.floor(h);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  }

  public int count() {
    return count;
  }

  public double median() {
    return median;
  }

  public double p90() {
    return p90;
  }

  public double mean() {
    return mean;
  }

  public double min() {
    return min;
  }

  public double max() {
    return max;
  }
}
