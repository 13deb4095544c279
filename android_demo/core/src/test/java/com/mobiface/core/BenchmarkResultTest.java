// Tests of the benchmark request, the delegate names and the result JSON.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.Test;

public class BenchmarkResultTest {
  private static BenchmarkResult sample() {
    ModelMetadata m = Fixtures.parse(Fixtures.FLOAT32_METADATA);
    BenchmarkRequest r = BenchmarkRequest.fromExtras("mobiface", null, "gpu", 4, 5, 0);
    ScriptedTimings timings = new ScriptedTimings();
    return BenchmarkResult.of(m, r, 12.345678, timings.get(), "Pixel 8 (Android 15, arm64-v8a)");
  }

  /** Timings of 1..5 ms with a first inference of 40 ms, made through the real loop. */
  private static final class ScriptedTimings {
    BenchmarkLoop.Timings get() {
      long[] now = {0};
      long[] durations = {40, 5, 1, 4, 2, 3};
      int[] i = {0};
      try {
        return BenchmarkLoop.measure(
            () -> now[0], () -> now[0] += durations[i[0]++] * 1_000_000L, 0, 5);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
  }

  @Test
  public void jsonHasTheDesktopFieldsInOrder() {
    Map<String, Object> json = Json.parseObject(sample().toJson());
    assertEquals(
        Arrays.asList("model", "precision", "delegate", "threads", "runs", "init_ms",
            "first_inference_ms", "median_ms", "p90_ms", "mean_ms", "device"),
        new ArrayList<>(json.keySet()));
    assertEquals("mobiface", json.get("model"));
    assertEquals("float32", json.get("precision"));
    assertEquals("gpu", json.get("delegate"));
    assertEquals(4.0, json.get("threads"));
    assertEquals(5.0, json.get("runs"));
    assertEquals(12.3457, (Double) json.get("init_ms"), 0);
    assertEquals(40.0, (Double) json.get("first_inference_ms"), 0);
    assertEquals(3.0, (Double) json.get("median_ms"), 0);
    assertEquals(4.6, (Double) json.get("p90_ms"), 1e-12);
    assertEquals(3.0, (Double) json.get("mean_ms"), 0);
    assertEquals("Pixel 8 (Android 15, arm64-v8a)", json.get("device"));
    assertTrue("one line", !sample().toJson().contains("\n"));
  }

  @Test
  public void roundTripsThroughJson() {
    BenchmarkResult a = sample();
    BenchmarkResult b = BenchmarkResult.fromJson(a.toJson());
    assertEquals(a.toJson(), b.toJson());
    assertEquals(4, b.threads());
    assertEquals("gpu", b.delegate());
  }

  @Test
  public void fromJsonNamesAMissingField() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkResult.fromJson("{\"model\": \"m\"}"));
    assertTrue(e.getMessage(), e.getMessage().contains("\"precision\""));
  }

  @Test
  public void requestDefaultsAndChecks() {
    BenchmarkRequest r = BenchmarkRequest.fromExtras(" mobiface ", "", null, null, null, null);
    assertEquals("mobiface", r.model());
    assertNull(r.precision());
    assertEquals(Delegate.CPU, r.delegate());
    assertEquals(BenchmarkRequest.DEFAULT_THREADS, r.threads());
    assertEquals(BenchmarkRequest.DEFAULT_RUNS, r.runs());
    assertEquals(BenchmarkRequest.DEFAULT_WARMUP, r.warmup());
    assertThrows(IllegalArgumentException.class, () -> BenchmarkRequest.fromExtras(null, null, null, null, null, null));
    assertThrows(IllegalArgumentException.class, () -> BenchmarkRequest.fromExtras("m", null, null, 0, null, null));
    assertThrows(IllegalArgumentException.class, () -> BenchmarkRequest.fromExtras("m", null, null, null, 0, null));
    assertThrows(IllegalArgumentException.class, () -> BenchmarkRequest.fromExtras("m", null, null, null, null, -1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkRequest.fromExtras("m", null, "tpu", null, null, null));
    assertTrue(e.getMessage(), e.getMessage().contains("\"tpu\""));
  }

  @Test
  public void requestFromIntentExtrasAsAdbSendsThem() {
    Map<String, Object> extras = new HashMap<>();
    extras.put(BenchmarkRequest.EXTRA_MODEL, "mobiface");
    extras.put(BenchmarkRequest.EXTRA_PRECISION, "int8");
    extras.put(BenchmarkRequest.EXTRA_DELEGATE, "gpu");
    extras.put(BenchmarkRequest.EXTRA_THREADS, 4); // --ei threads 4
    extras.put(BenchmarkRequest.EXTRA_RUNS, " 50 "); // --es runs 50
    extras.put("unrelated", true);
    BenchmarkRequest r = BenchmarkRequest.fromExtras(extras);
    assertEquals("mobiface", r.model());
    assertEquals("int8", r.precision());
    assertEquals(Delegate.GPU, r.delegate());
    assertEquals(4, r.threads());
    assertEquals(50, r.runs());
    assertEquals(BenchmarkRequest.DEFAULT_WARMUP, r.warmup());
    extras.put(BenchmarkRequest.EXTRA_WARMUP, 3L); // --el warmup 3
    assertEquals(3, BenchmarkRequest.fromExtras(extras).warmup());

    extras.put(BenchmarkRequest.EXTRA_THREADS, "four");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkRequest.fromExtras(extras));
    assertEquals("threads must be a whole number, got \"four\"", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkRequest.fromExtras(new HashMap<String, Object>()));
    assertTrue(e.getMessage(), e.getMessage().contains("model is required"));
  }

  @Test
  public void fileNameNamesTheRunAndIsSafe() {
    assertEquals("mobiface_float32_gpu_t4_20250101-120000.json", sample().fileName("20250101-120000"));
    BenchmarkResult odd = new BenchmarkResult(
        "run/a b", "int8", "xnnpack", 1, 1, 0, 0, 0, 0, 0, "d");
    assertEquals("run_a_b_int8_xnnpack_t1_s.json", odd.fileName("s"));
  }

  @Test
  public void delegateNames() {
    assertEquals(Delegate.CPU, Delegate.parse("CPU"));
    assertEquals(Delegate.CPU, Delegate.parse("xnnpack"));
    assertEquals(Delegate.GPU, Delegate.parse("gpu"));
    assertEquals(Delegate.NNAPI, Delegate.parse(" NNAPI "));
    assertEquals("xnnpack", Delegate.CPU.jsonName());
    assertThrows(IllegalArgumentException.class, () -> Delegate.parse(null));
  }
}
