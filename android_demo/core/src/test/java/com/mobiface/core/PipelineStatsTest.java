// Pipeline stage latencies: medians per stage, the total of whole runs, JSON in and out.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class PipelineStatsTest {
  @Test
  public void mediansPerStageAndOfWholeRuns() {
    PipelineStats stats = PipelineStats.of("photos/a.jpg", 250, 250, 1,
        new double[] {10, 30, 20}, new double[] {1, 1, 3}, new double[] {5, 2, 4});
    assertEquals(3, stats.runs());
    assertEquals(20, stats.detectMs(), 0);
    assertEquals(1, stats.alignMs(), 0);
    assertEquals(4, stats.embedMs(), 0);
    // Runs total 16, 33, 27: the median of whole runs, not the sum of the stage medians (25).
    assertEquals(27, stats.totalMs(), 0);
  }

  @Test
  public void travelsInsideTheBenchmarkResultJson() {
    BenchmarkResult plain = new BenchmarkResult("mobiface", "int8", "xnnpack", 4, 200, 21.5, 9.1, 6.2, 6.8,
        6.3, "a phone");
    assertNull(BenchmarkResult.fromJson(plain.toJson()).pipeline());
    PipelineStats stats = PipelineStats.of("photos/a.jpg", 250, 200, 2,
        new double[] {12.34567}, new double[] {0.5}, new double[] {6.25});
    String json = plain.withPipeline(stats).toJson();
    assertTrue(json, json.endsWith("\"device\":\"a phone\",\"pipeline\":{\"photo\":\"photos/a.jpg\",\"width\":250,"
        + "\"height\":200,\"faces\":2,\"runs\":1,\"detect_ms\":12.3457,\"align_ms\":0.5,\"embed_ms\":6.25,"
        + "\"total_ms\":19.0957}}"));
    PipelineStats back = BenchmarkResult.fromJson(json).pipeline();
    assertEquals(2, back.faces());
    assertEquals(19.0957, back.totalMs(), 1e-9);
    assertTrue(plain.withPipeline(stats).summary().contains("detect 12.35 ms, align 0.50 ms, embed 6.25 ms"));
  }
}
