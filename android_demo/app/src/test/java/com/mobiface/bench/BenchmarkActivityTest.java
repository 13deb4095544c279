// JVM tests of the headless benchmark: intent extras in, result (or error) file out.
package com.mobiface.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.content.Context;
import android.content.Intent;
import android.os.Looper;
import com.mobiface.core.BenchmarkRequest;
import com.mobiface.core.BenchmarkResult;
import com.mobiface.core.PipelineStats;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.Rule;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.annotation.Config;

/**
 * Starts {@link BenchmarkActivity} as {@code adb shell am start ... --es model mobiface} does, with
 * the APK's real assets (the bundled model and its metadata) and the real catalog, request,
 * benchmark loop and result store. Only the interpreter is a stand-in
 * ({@link FakeInterpreter}): LiteRT's native library cannot load on the JVM.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 34)
public class BenchmarkActivityTest {
  private static final long TIMEOUT_MS = 120_000;  // a wait for completion, not a speed target: shared CI cores are slow
  @Rule public final FakeLiteRt liteRt = new FakeLiteRt();

  @Test
  public void headlessBenchmarkWritesItsResultFile() throws Exception {
    Intent intent = headless().putExtra(BenchmarkRequest.EXTRA_MODEL, "mobiface")
        .putExtra(BenchmarkRequest.EXTRA_THREADS, 2)
        .putExtra(BenchmarkRequest.EXTRA_RUNS, "7") // --es, as a shell script may send it
        .putExtra(BenchmarkRequest.EXTRA_WARMUP, 3);
    try (ActivityController<BenchmarkActivity> controller =
        Robolectric.buildActivity(BenchmarkActivity.class, intent).setup()) {
      String json = awaitFile(ResultStore.LATEST);
      BenchmarkResult result = BenchmarkResult.fromJson(json);
      assertEquals("mobiface", result.model());
      assertEquals("int8", result.precision()); // the bundled model's metadata
      assertEquals("xnnpack", result.delegate());
      assertEquals(2, result.threads());
      assertEquals(7, result.runs());
      // first inference + warm-up + timed runs, each one interpreter.run; then the face pipeline
      // on the first bundled photo with the same interpreter: 3 warm-up and 7 timed runs
      assertEquals(1, liteRt.models.size());
      assertEquals(1 + 3 + 7 + 3 + 7, liteRt.models.get(0).runs);
      assertEquals(2, liteRt.models.get(0).threads);
      assertTrue("the model was memory-mapped from the APK's assets", liteRt.models.get(0).modelBytes > 2_000_000);
      PipelineStats pipeline = result.pipeline();
      assertTrue("the APK carries photos and the detector: the pipeline ran", pipeline != null);
      assertEquals(7, pipeline.runs());
      assertEquals(1, pipeline.faces()); // what FakeMtcnnInterpreter answers
      assertTrue(pipeline.totalMs() >= pipeline.detectMs());
      assertEquals(3, liteRt.networks.size());
      for (FakeMtcnnInterpreter network : liteRt.networks) {
        assertEquals(network.network, 2, network.threads);
        assertTrue(network.network + " ran", network.runs >= 10);
      }
      File[] saved = benchDir().listFiles();
      assertTrue("one file per run beside latest.json", saved != null && saved.length == 2);
      // The worker writes the file, then posts finish() to the main looper: wait for that post.
      long deadline = System.currentTimeMillis() + TIMEOUT_MS;
      do {
        shadowOf(Looper.getMainLooper()).idle();
      } while (!controller.get().isFinishing() && System.currentTimeMillis() < deadline && sleep());
      assertTrue("a headless run finishes", controller.get().isFinishing());
    }
  }

  @Test
  public void badExtrasWriteTheErrorFile() throws Exception {
    Intent intent = headless().putExtra(BenchmarkRequest.EXTRA_MODEL, "mobiface")
        .putExtra(BenchmarkRequest.EXTRA_THREADS, "four");
    try (ActivityController<BenchmarkActivity> controller =
        Robolectric.buildActivity(BenchmarkActivity.class, intent).setup()) {
      assertEquals("bad intent extras: threads must be a whole number, got \"four\"\n",
          awaitFile(ResultStore.LATEST_ERROR));
      assertTrue(liteRt.models.isEmpty());
      assertFalse(new File(benchDir(), ResultStore.LATEST).exists());
    }
  }

  @Test
  public void anUnknownModelListsWhatIsBundled() throws Exception {
    Intent intent = headless().putExtra(BenchmarkRequest.EXTRA_MODEL, "no-such-model");
    try (ActivityController<BenchmarkActivity> controller =
        Robolectric.buildActivity(BenchmarkActivity.class, intent).setup()) {
      String error = awaitFile(ResultStore.LATEST_ERROR);
      assertTrue(error, error.startsWith("no bundled model \"no-such-model\"; bundled: "));
      assertTrue(error, error.contains("(mobiface.tflite)"));
    }
  }

  private static Intent headless() {
    return new Intent(RuntimeEnvironment.getApplication(), BenchmarkActivity.class);
  }

  private static File benchDir() {
    Context context = RuntimeEnvironment.getApplication();
    return new File(context.getFilesDir(), "bench");
  }

  /** Waits for the worker thread to write files/bench/{name}; returns its text. */
  private static String awaitFile(String name) throws IOException, InterruptedException {
    File file = new File(benchDir(), name);
    long deadline = System.currentTimeMillis() + TIMEOUT_MS;
    while (!file.exists() && System.currentTimeMillis() < deadline) {
      shadowOf(Looper.getMainLooper()).idle();
      Thread.sleep(20);
    }
    File error = new File(benchDir(), ResultStore.LATEST_ERROR);
    if (!file.exists() && error.exists()) {
      throw new AssertionError("the app wrote an error instead: " + read(error));
    }
    assertTrue(name + " not written within " + TIMEOUT_MS + " ms", file.exists());
    return read(file);
  }

  private static String read(File file) throws IOException {
    return new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
  }

  private static boolean sleep() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return true;
  }
}
