// Tests of the timing protocol with a scripted clock.
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class BenchmarkLoopTest {
  /** A clock that advances only when the step runs, by the next scripted duration. */
  private static final class ScriptedClock implements BenchmarkLoop.Clock {
    long now = 1_000_000_000L;

    @Override
    public long nanos() {
      return now;
    }
  }

  @Test
  public void timesFirstWarmupAndRunsSeparately() throws Exception {
    ScriptedClock clock = new ScriptedClock();
    // step durations in ms: first 50, warm-up 9 and 8 (untimed), then 1, 3, 2
    long[] durationsMs = {50, 9, 8, 1, 3, 2};
    int[] calls = {0};
    BenchmarkLoop.Timings t =
        BenchmarkLoop.measure(
            clock,
            () -> clock.now += durationsMs[calls[0]++] * 1_000_000L,
            2,
            3);
    assertEquals(6, calls[0]);
    assertEquals(50.0, t.firstInferenceMs(), 0);
    assertArrayEquals(new double[] {1, 3, 2}, t.runsMs(), 0);
  }

  @Test
  public void noWarmupIsAllowed() throws Exception {
    ScriptedClock clock = new ScriptedClock();
    BenchmarkLoop.Timings t = BenchmarkLoop.measure(clock, () -> clock.now += 500_000L, 0, 1);
    assertEquals(0.5, t.firstInferenceMs(), 0);
    assertArrayEquals(new double[] {0.5}, t.runsMs(), 0);
  }

  @Test
  public void stepErrorsPropagate() {
    ScriptedClock clock = new ScriptedClock();
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> BenchmarkLoop.measure(clock, () -> {
              throw new IllegalStateException("delegate failed");
            }, 1, 1));
    assertEquals("delegate failed", e.getMessage());
  }

  @Test
  public void refusesBadCounts() {
    ScriptedClock clock = new ScriptedClock();
    assertThrows(IllegalArgumentException.class, () -> BenchmarkLoop.measure(clock, () -> {}, -1, 1));
    assertThrows(IllegalArgumentException.class, () -> BenchmarkLoop.measure(clock, () -> {}, 0, 0));
  }
}
