// Tests of the latency statistics, pinned to numpy's median/percentile/mean.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class LatencyStatsTest {
  @Test
  public void matchesNumpyOnAnUnsortedSample() {
    // numpy: median 3.5, percentile(x, 90) 6.9, mean 3.875
    double[] x = {3, 1, 4, 1, 5, 9, 2, 6};
    LatencyStats s = LatencyStats.of(x);
    assertEquals(3.5, s.median(), 1e-12);
    assertEquals(6.9, s.p90(), 1e-12);
    assertEquals(3.875, s.mean(), 1e-12);
    assertEquals(1, s.min(), 0);
    assertEquals(9, s.max(), 0);
    assertEquals(8, s.count());
    assertEquals(3, x[0], 0); // the caller's array is not sorted in place
  }

  @Test
  public void matchesNumpyOnOneToTen() {
    double[] x = new double[10];
    for (int i = 0; i < 10; i++) {
      x[i] = 10 - i;
    }
    LatencyStats s = LatencyStats.of(x);
    assertEquals(5.5, s.median(), 1e-12);
    assertEquals(9.1, s.p90(), 1e-12);
  }

  @Test
  public void singleRun() {
    LatencyStats s = LatencyStats.of(new double[] {7});
    assertEquals(7, s.median(), 0);
    assertEquals(7, s.p90(), 0);
    assertEquals(7, s.mean(), 0);
  }

  @Test
  public void percentileEnds() {
    double[] sorted = {1, 2, 4};
    assertEquals(1, LatencyStats.percentileOfSorted(sorted, 0), 0);
    assertEquals(4, LatencyStats.percentileOfSorted(sorted, 100), 0);
    assertEquals(3, LatencyStats.percentileOfSorted(sorted, 75), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> LatencyStats.percentileOfSorted(sorted, 101));
  }

  @Test
  public void refusesEmptyOrBadSamples() {
    assertThrows(IllegalArgumentException.class, () -> LatencyStats.of(new double[0]));
    assertThrows(IllegalArgumentException.class, () -> LatencyStats.of(null));
    assertThrows(IllegalArgumentException.class, () -> LatencyStats.of(new double[] {1, -0.5}));
    assertThrows(IllegalArgumentException.class, () -> LatencyStats.of(new double[] {Double.NaN}));
  }
}
