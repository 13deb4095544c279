// Saves benchmark results as JSON in the app's storage and logs the one parseable line.
package com.mobiface.bench;

import android.content.Context;
import android.util.Log;
import com.mobiface.core.BenchmarkResult;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.Locale;

/**
 * Results go to {@code files/bench/} in the app's private storage: one file per run, and
 * {@code latest.json} (or {@code latest.error}) that {@code make android-bench} polls through
 * {@code adb exec-out run-as com.mobiface.bench cat files/bench/latest.json}.
 */
public final class ResultStore {
  public static final String LATEST = "latest.json";
  public static final String LATEST_ERROR = "latest.error";

  private final File dir;

  public ResultStore(Context context) {
    this.dir = new File(context.getFilesDir(), "bench");
  }

  /** Removes the previous latest result and error, so a poller cannot read a stale one. */
  public void clearLatest() {
    new File(dir, LATEST).delete();
    new File(dir, LATEST_ERROR).delete();
  }

  /** Logs the result line under {@link BenchmarkResult#LOG_TAG} and writes both files. */
  public File save(BenchmarkResult result) throws IOException {
    String json = result.toJson();
    Log.i(BenchmarkResult.LOG_TAG, json);
    String stamp = new SimpleDateFormat("yyyyMMdd-HHmmss", Locale.ROOT).format(new Date());
    File file = new File(dir, result.fileName(stamp));
    writeAtomically(file, json + "\n");
    writeAtomically(new File(dir, LATEST), json + "\n");
    return file;
  }

  /** Logs a failure and writes it where the headless poller looks. */
  public void saveError(String message) {
    Log.e(BenchmarkResult.LOG_TAG, "error: " + message);
    try {
      writeAtomically(new File(dir, LATEST_ERROR), message + "\n");
    } catch (IOException e) {
      Log.e(BenchmarkResult.LOG_TAG, "cannot write " + LATEST_ERROR + ": " + e.getMessage());
    }
  }

  /** Writes a temporary file and renames it, so readers never see half a file. */
  private void writeAtomically(File file, String text) throws IOException {
    if (!dir.isDirectory() && !dir.mkdirs()) {
      throw new IOException("cannot create " + dir);
    }
    File tmp = new File(dir, file.getName() + ".tmp");
    try (Writer out = new OutputStreamWriter(new FileOutputStream(tmp), StandardCharsets.UTF_8)) {
      out.write(text);
    }
    if (!tmp.renameTo(file)) {
      throw new IOException("cannot rename " + tmp + " to " + file);
    }
  }
}
