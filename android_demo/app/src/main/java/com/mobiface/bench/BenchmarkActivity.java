// The benchmark screen, and the headless benchmark that adb starts with intent extras.
package com.mobiface.bench;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.os.Bundle;
import android.text.TextUtils;
import android.util.Log;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.EditText;
import android.widget.Spinner;
import android.widget.TextView;
import com.mobiface.core.BenchmarkRequest;
import com.mobiface.core.BenchmarkResult;
import com.mobiface.core.Delegate;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.PipelineStats;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Pick model, precision, delegate and threads; warm up, then time N runs. With a {@code model}
 * extra the activity runs headless instead and finishes:
 *
 * <pre>
 * adb shell am start -n com.mobiface.bench/.BenchmarkActivity \
 *     --es model mobiface --es precision float32 --es delegate cpu \
 *     --ei threads 4 --ei runs 200 --ei warmup 20
 * </pre>
 *
 * The result is saved under files/bench/ ({@link ResultStore}) and logged under the tag
 * {@link BenchmarkResult#LOG_TAG}. When the APK carries the detector and a raw photo, the
 * result also holds the face pipeline on that photo ({@code pipeline}: median detect, align,
 * embed and total ms over at most {@link #PIPELINE_MAX_RUNS} runs, after the embedder's own
 * timing, with the same model, delegate and threads; the detector runs on the CPU).
 */
public final class BenchmarkActivity extends Activity implements FaceModelHelper.Listener {
  /** The face pipeline's timed runs: at most this many, fewer when the request asks fewer. */
  static final int PIPELINE_MAX_RUNS = 50;
  /** And its untimed warm-up runs. */
  static final int PIPELINE_MAX_WARMUP = 5;

  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private ModelCatalog catalog;
  private ResultStore store;
  private FaceModelHelper helper;
  /** The request being run (set before the worker starts it). */
  private volatile BenchmarkRequest running;
  private boolean headless;

  private Spinner modelPicker;
  private Spinner precisionPicker;
  private Spinner delegatePicker;
  private EditText threadsField;
  private EditText warmupField;
  private EditText runsField;
  private Button runButton;
  private TextView resultView;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_benchmark);
    bindViews();
    store = new ResultStore(this);
    headless = getIntent().hasExtra(BenchmarkRequest.EXTRA_MODEL);
    String problems = "";
    try {
      AssetModels.Loaded loaded = AssetModels.load(getAssets());
      catalog = loaded.catalog;
      problems = TextUtils.join("\n", loaded.problems);
    } catch (IOException e) {
      catalog = new ModelCatalog(new ArrayList<ModelCatalog.Entry>());
      problems = "cannot list assets: " + e.getMessage();
    }
    if (!problems.isEmpty()) {
      Log.w(BenchmarkResult.LOG_TAG, problems);
    }
    if (headless) {
      // A rotation re-creates the activity: run only for the intent that started it.
      if (savedInstanceState == null) {
        runHeadless(getIntent());
      }
      return;
    }
    setUpPickers();
    resultView.setText(catalog.isEmpty() ? getString(R.string.no_models) + "\n" + problems : problems);
  }

  private void bindViews() {
    modelPicker = findViewById(R.id.model);
    precisionPicker = findViewById(R.id.precision);
    delegatePicker = findViewById(R.id.delegate);
    threadsField = findViewById(R.id.threads);
    warmupField = findViewById(R.id.warmup);
    runsField = findViewById(R.id.runs);
    runButton = findViewById(R.id.run);
    resultView = findViewById(R.id.result);
  }

  private void setUpPickers() {
    modelPicker.setAdapter(adapter(catalog.models()));
    modelPicker.setOnItemSelectedListener(
        new AdapterView.OnItemSelectedListener() {
          @Override
          public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
            precisionPicker.setAdapter(adapter(catalog.precisions((String) parent.getItemAtPosition(position))));
          }

          @Override
          public void onNothingSelected(AdapterView<?> parent) {}
        });
    List<String> delegates = new ArrayList<>();
    for (Delegate d : Delegate.values()) {
      delegates.add(d.label());
    }
    delegatePicker.setAdapter(adapter(delegates));
    threadsField.setText(String.valueOf(BenchmarkRequest.DEFAULT_THREADS));
    warmupField.setText(String.valueOf(BenchmarkRequest.DEFAULT_WARMUP));
    runsField.setText(String.valueOf(BenchmarkRequest.DEFAULT_RUNS));
    runButton.setEnabled(!catalog.isEmpty());
    runButton.setOnClickListener(
        new View.OnClickListener() {
          @Override
          public void onClick(View v) {
            runFromScreen();
          }
        });
  }

  private ArrayAdapter<String> adapter(List<String> items) {
    ArrayAdapter<String> adapter =
        new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
    adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
    return adapter;
  }

  private void runFromScreen() {
    BenchmarkRequest request;
    try {
      request =
          new BenchmarkRequest(
              (String) modelPicker.getSelectedItem(),
              (String) precisionPicker.getSelectedItem(),
              Delegate.values()[delegatePicker.getSelectedItemPosition()],
              parseInt(threadsField, "threads"),
              parseInt(runsField, "runs"),
              parseInt(warmupField, "warm-up runs"));
    } catch (IllegalArgumentException e) {
      resultView.setText(e.getMessage());
      return;
    }
    runButton.setEnabled(false);
    resultView.setText(R.string.running);
    start(request);
  }

  private static int parseInt(EditText field, String name) {
    String text = field.getText().toString().trim();
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number, got \"" + text + "\"");
    }
  }

  private void runHeadless(Intent intent) {
    store.clearLatest();
    resultView.setText(R.string.running);
    BenchmarkRequest request;
    try {
      request = BenchmarkRequest.fromExtras(extrasOf(intent));
    } catch (IllegalArgumentException e) {
      onError("bad intent extras: " + e.getMessage());
      return;
    }
    start(request);
  }

  /** The intent's extras as a map, whatever their types (--es, --ei, --el). */
  @SuppressWarnings("deprecation") // Bundle.get(String): the only untyped read, needed here
  private static Map<String, Object> extrasOf(Intent intent) {
    Map<String, Object> map = new HashMap<>();
    Bundle extras = intent.getExtras();
    if (extras != null) {
      for (String key : extras.keySet()) {
        map.put(key, extras.get(key));
      }
    }
    return map;
  }

  /** Finds the model, then benchmarks it on the worker thread. */
  private void start(final BenchmarkRequest request) {
    final ModelCatalog.Entry entry;
    try {
      entry = catalog.find(request.model(), request.precision());
    } catch (IllegalArgumentException e) {
      onError(e.getMessage());
      return;
    }
    running = request;
    worker.execute(
        new Runnable() {
          @Override
          public void run() {
            if (helper != null) {
              helper.close();
            }
            BenchmarkActivity self = BenchmarkActivity.this;
            helper = new FaceModelHelper(self, entry, request.delegate(), request.threads(), self);
            helper.benchmark(request, benchmarkFace(entry));
          }
        });
  }

  /** The first bundled sample crop (real faces exercise int8 kernels as phones will), else noise. */
  private byte[] benchmarkFace(ModelCatalog.Entry entry) {
    try {
      List<String> samples = AssetModels.samples(getAssets());
      if (!samples.isEmpty()) {
        return FaceImages.toModelRgb(FaceImages.fromAsset(getAssets(), samples.get(0)), entry.metadata());
      }
    } catch (IOException e) {
      Log.w(BenchmarkResult.LOG_TAG, "no sample crop, benchmarking on noise: " + e.getMessage());
    }
    return FaceImages.noise(entry.metadata());
  }

  /**
   * The result with the face pipeline on the first bundled photo (on the worker thread, with the
   * benchmark's embedder); unchanged when the APK has no detector or no photo.
   */
  private BenchmarkResult withPipeline(BenchmarkResult result, BenchmarkRequest request) throws Exception {
    List<String> photos = AssetModels.photos(getAssets());
    if (photos.isEmpty() || !MtcnnLite.bundled(this)) {
      Log.i(BenchmarkResult.LOG_TAG, "face pipeline not measured: the APK has no detector or no photo");
      return result;
    }
    String name = photos.get(0);
    Bitmap photo = FaceImages.fromAsset(getAssets(), name);
    try (FacePipeline pipeline = new FacePipeline(this, helper, request.threads())) {
      for (int i = 0; i < Math.min(request.warmup(), PIPELINE_MAX_WARMUP); i++) {
        pipeline.run(photo, name);
      }
      int runs = Math.max(1, Math.min(request.runs(), PIPELINE_MAX_RUNS));
      double[] detect = new double[runs];
      double[] align = new double[runs];
      double[] embed = new double[runs];
      int faces = 0;
      for (int i = 0; i < runs; i++) {
        FacePipeline.Result r = pipeline.run(photo, name);
        detect[i] = r.detectMs;
        align[i] = r.alignMs;
        embed[i] = r.embedMs;
        faces = r.facesFound;
      }
      return result.withPipeline(
          PipelineStats.of(name, photo.getWidth(), photo.getHeight(), faces, detect, align, embed));
    }
  }

  @Override
  public void onBenchmarkResult(BenchmarkResult result) {
    String pipelineNote = "";
    try {
      result = withPipeline(result, running);
    } catch (Exception | LinkageError e) {
      pipelineNote = "\nface pipeline not measured: " + e.getMessage();
      Log.w(BenchmarkResult.LOG_TAG, pipelineNote.trim());
    }
    String saved;
    try {
      File file = store.save(result);
      saved = "saved " + file.getAbsolutePath();
    } catch (IOException e) {
      store.saveError("result not saved: " + e.getMessage());
      saved = "not saved: " + e.getMessage();
    }
    showOnUiThread(result.summary() + pipelineNote + "\n" + saved, true);
  }

  @Override
  public void onError(String message) {
    store.saveError(message);
    showOnUiThread(message, !catalog.isEmpty());
  }

  /** Shows the text and re-enables the run button; a headless run finishes instead. */
  private void showOnUiThread(final String text, final boolean canRunAgain) {
    runOnUiThread(
        new Runnable() {
          @Override
          public void run() {
            if (headless) {
              finish();
              return;
            }
            resultView.setText(text);
            runButton.setEnabled(canRunAgain);
          }
        });
  }

  @Override
  protected void onDestroy() {
    worker.execute(
        new Runnable() {
          @Override
          public void run() {
            if (helper != null) {
              helper.close();
            }
          }
        });
    worker.shutdown();
    super.onDestroy();
  }
}
