// The verification screen: two photos, each detected, aligned and embedded; their similarity and the decision.
package com.mobiface.bench;

import android.app.Activity;
import android.content.ActivityNotFoundException;
import android.content.Intent;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.provider.MediaStore;
import android.text.TextUtils;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.ImageView;
import android.widget.Spinner;
import android.widget.TextView;
import com.mobiface.core.DetectedFace;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.Verification;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Compares two photos end to end, as {@code mobiface verify a.jpg b.jpg} does on the desktop: each
 * side is a bundled photo, a gallery pick or a camera shot; {@link FacePipeline} finds the largest
 * face (MTCNN on the bundled networks), aligns it on the five landmarks and embeds it with the
 * chosen model on the CPU; the screen shows both aligned faces, the cosine similarity, the decision
 * at the threshold from the model's metadata and each stage's time.
 */
public final class VerifyActivity extends Activity {
  private static final int PICK_A = 1;
  private static final int PICK_B = 2;
  private static final int SHOOT_A = 3;
  private static final int SHOOT_B = 4;
  private static final int THREADS = 2;
  /** Gallery photos are decoded at a shorter side of at least this (in [480, 960) px). */
  static final int PHOTO_MIN_SIDE = 480;

  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private final Bitmap[] photos = new Bitmap[2];
  private final String[] names = new String[2];
  private ModelCatalog catalog;
  private List<String> bundled = new ArrayList<>();
  private boolean hasDetector;
  /** Used on the worker thread only. */
  private FacePipeline pipeline;
  private ModelCatalog.Entry pipelineEntry;

  private Spinner modelPicker;
  private ImageView[] imageViews;
  private ImageView[] alignedViews;
  private TextView resultView;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_verify);
    modelPicker = findViewById(R.id.model);
    imageViews = new ImageView[] {findViewById(R.id.image_a), findViewById(R.id.image_b)};
    alignedViews = new ImageView[] {findViewById(R.id.aligned_a), findViewById(R.id.aligned_b)};
    resultView = findViewById(R.id.result);

    String problems;
    try {
      AssetModels.Loaded loaded = AssetModels.load(getAssets());
      catalog = loaded.catalog;
      problems = TextUtils.join("\n", loaded.problems);
      bundled.addAll(AssetModels.photos(getAssets()));
      bundled.addAll(AssetModels.samples(getAssets()));
    } catch (IOException e) {
      catalog = new ModelCatalog(new ArrayList<ModelCatalog.Entry>());
      problems = "cannot list assets: " + e.getMessage();
    }
    hasDetector = MtcnnLite.bundled(this);
    List<String> labels = new ArrayList<>();
    for (ModelCatalog.Entry entry : catalog.entries()) {
      labels.add(entry.metadata().label());
    }
    modelPicker.setAdapter(adapter(labels));

    setUpSlot(0, R.id.sample_a, R.id.gallery_a, R.id.camera_a, PICK_A, SHOOT_A);
    setUpSlot(1, R.id.sample_b, R.id.gallery_b, R.id.camera_b, PICK_B, SHOOT_B);
    findViewById(R.id.compare).setEnabled(!catalog.isEmpty() && hasDetector);
    findViewById(R.id.compare)
        .setOnClickListener(
            new View.OnClickListener() {
              @Override
              public void onClick(View v) {
                compare();
              }
            });
    String intro = hasDetector
        ? "Pick a photo for each side: bundled, from the gallery or the camera. The largest face of each is compared."
        : getString(R.string.no_detector);
    resultView.setText(catalog.isEmpty() ? getString(R.string.no_models) + "\n" + problems
        : problems.isEmpty() ? intro : intro + "\n" + problems);
  }

  private ArrayAdapter<String> adapter(List<String> items) {
    ArrayAdapter<String> adapter =
        new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
    adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
    return adapter;
  }

  private void setUpSlot(final int slot, int spinnerId, int galleryId, int cameraId, final int pickCode,
      final int shootCode) {
    Spinner picker = findViewById(spinnerId);
    List<String> labels = new ArrayList<>();
    for (String path : bundled) {
      labels.add(path);
    }
    picker.setAdapter(adapter(labels));
    // B starts on the second photo: sync-assets bundles two photos of one person, then another.
    if (slot == 1 && bundled.size() > 1) {
      picker.setSelection(1);
    }
    picker.setOnItemSelectedListener(
        new AdapterView.OnItemSelectedListener() {
          @Override
          public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
            try {
              show(slot, FaceImages.fromAsset(getAssets(), bundled.get(position)), bundled.get(position));
            } catch (IOException e) {
              resultView.setText(e.getMessage());
            }
          }

          @Override
          public void onNothingSelected(AdapterView<?> parent) {}
        });
    findViewById(galleryId)
        .setOnClickListener(
            new View.OnClickListener() {
              @Override
              public void onClick(View v) {
                Intent pick = new Intent(Intent.ACTION_GET_CONTENT);
                pick.setType("image/*");
                pick.addCategory(Intent.CATEGORY_OPENABLE);
                startForResult(pick, pickCode);
              }
            });
    findViewById(cameraId)
        .setOnClickListener(
            new View.OnClickListener() {
              @Override
              public void onClick(View v) {
                // Without EXTRA_OUTPUT the camera app returns a small preview bitmap: enough for a
                // face that fills the frame, and it needs no file provider or storage permission.
                startForResult(new Intent(MediaStore.ACTION_IMAGE_CAPTURE), shootCode);
              }
            });
  }

  private void startForResult(Intent intent, int requestCode) {
    try {
      startActivityForResult(intent, requestCode);
    } catch (ActivityNotFoundException e) {
      resultView.setText("No app on this phone handles " + intent.getAction());
    }
  }

  @Override
  @SuppressWarnings("deprecation") // Bundle.get: the typed getParcelable(String, Class) is API 33+
  protected void onActivityResult(int requestCode, int resultCode, Intent data) {
    super.onActivityResult(requestCode, resultCode, data);
    if (resultCode != RESULT_OK || data == null) {
      return;
    }
    int slot = requestCode == PICK_A || requestCode == SHOOT_A ? 0 : 1;
    if (requestCode == SHOOT_A || requestCode == SHOOT_B) {
      Bundle extras = data.getExtras();
      Object shot = extras == null ? null : extras.get("data");
      if (shot instanceof Bitmap) {
        show(slot, (Bitmap) shot, "camera shot");
      } else {
        resultView.setText("The camera app returned no picture.");
      }
      return;
    }
    Uri uri = data.getData();
    if (uri == null) {
      return;
    }
    try {
      show(slot, FaceImages.fromUri(getContentResolver(), uri, PHOTO_MIN_SIDE), uri.getLastPathSegment());
    } catch (IOException e) {
      resultView.setText(e.getMessage());
    }
  }

  private void show(int slot, Bitmap bitmap, String name) {
    photos[slot] = bitmap;
    names[slot] = name;
    imageViews[slot].setImageBitmap(bitmap);
    alignedViews[slot].setImageDrawable(null);
  }

  private void compare() {
    if (photos[0] == null || photos[1] == null) {
      resultView.setText("Choose two photos first.");
      return;
    }
    final ModelCatalog.Entry entry = catalog.entries().get(modelPicker.getSelectedItemPosition());
    final Bitmap a = photos[0];
    final Bitmap b = photos[1];
    final String nameA = names[0];
    final String nameB = names[1];
    resultView.setText(R.string.running);
    worker.execute(
        new Runnable() {
          @Override
          public void run() {
            compareOnWorker(entry, a, nameA, b, nameB);
          }
        });
  }

  private void compareOnWorker(ModelCatalog.Entry entry, Bitmap a, String nameA, Bitmap b, String nameB) {
    try {
      if (pipeline == null || pipelineEntry != entry) {
        if (pipeline != null) {
          pipeline.close();
        }
        pipeline = null;
        pipeline = new FacePipeline(this, entry, THREADS);
        pipelineEntry = entry;
      }
      FacePipeline.Result faceA = pipeline.run(a, "A (" + nameA + ")");
      FacePipeline.Result faceB = pipeline.run(b, "B (" + nameB + ")");
      Verification verification = Verification.of(faceA.embedding, faceB.embedding, entry.metadata());
      final String text = verification.summary(entry.metadata().label()) + "\n\n"
          + describe("A", a, faceA) + "\n" + describe("B", b, faceB);
      final Bitmap alignedA = FaceImages.fromRgb(faceA.alignedRgb, faceA.alignedSize, faceA.alignedSize);
      final Bitmap alignedB = FaceImages.fromRgb(faceB.alignedRgb, faceB.alignedSize, faceB.alignedSize);
      runOnUiThread(
          new Runnable() {
            @Override
            public void run() {
              alignedViews[0].setImageBitmap(alignedA);
              alignedViews[1].setImageBitmap(alignedB);
              resultView.setText(text);
            }
          });
    } catch (Exception | LinkageError e) {
      final String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      runOnUiThread(
          new Runnable() {
            @Override
            public void run() {
              resultView.setText(message);
            }
          });
    }
  }

  /** One line per side: the face used and the stage times. */
  static String describe(String side, Bitmap photo, FacePipeline.Result result) {
    DetectedFace face = result.face;
    String found = face == null
        ? "no face found, taken as an aligned crop"
        : String.format(Locale.ROOT, "%d face(s), the largest %.0fx%.0f at (%.0f, %.0f), score %.3f",
            result.facesFound, face.width, face.height, face.left, face.top, face.score);
    return String.format(Locale.ROOT, "%s: %dx%d photo, %s\n   detect %.1f ms, align %.1f ms, embed %.1f ms",
        side, photo.getWidth(), photo.getHeight(), found, result.detectMs, result.alignMs, result.embedMs);
  }

  @Override
  protected void onDestroy() {
    worker.execute(
        new Runnable() {
          @Override
          public void run() {
            if (pipeline != null) {
              pipeline.close();
            }
          }
        });
    worker.shutdown();
    super.onDestroy();
  }
}
