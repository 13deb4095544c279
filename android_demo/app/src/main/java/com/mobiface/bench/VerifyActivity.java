// The verification screen: two aligned face crops, their similarity and the metadata's decision.
package com.mobiface.bench;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.text.TextUtils;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.ImageView;
import android.widget.Spinner;
import android.widget.TextView;
import com.mobiface.core.Delegate;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.ModelMetadata;
import com.mobiface.core.Verification;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Compares two aligned 112x112 face crops, each a bundled sample or a gallery pick, with the
 * chosen model on the CPU, and shows the cosine similarity and the decision at the threshold
 * from the model's metadata.
 */
public final class VerifyActivity extends Activity implements FaceModelHelper.Listener {
  private static final int PICK_A = 1;
  private static final int PICK_B = 2;
  private static final int THREADS = 2;

  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private final Bitmap[] faces = new Bitmap[2];
  private ModelCatalog catalog;
  private List<String> samples = new ArrayList<>();
  private FaceModelHelper helper;
  /** Notes about the faces of the comparison in flight, shown above its result. */
  private volatile String pendingNote = "";

  private Spinner modelPicker;
  private ImageView[] imageViews;
  private TextView resultView;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_verify);
    modelPicker = findViewById(R.id.model);
    imageViews = new ImageView[] {findViewById(R.id.image_a), findViewById(R.id.image_b)};
    resultView = findViewById(R.id.result);

    String problems;
    try {
      AssetModels.Loaded loaded = AssetModels.load(getAssets());
      catalog = loaded.catalog;
      problems = TextUtils.join("\n", loaded.problems);
      samples = AssetModels.samples(getAssets());
    } catch (IOException e) {
      catalog = new ModelCatalog(new ArrayList<ModelCatalog.Entry>());
      problems = "cannot list assets: " + e.getMessage();
    }
    List<String> labels = new ArrayList<>();
    for (ModelCatalog.Entry entry : catalog.entries()) {
      labels.add(entry.metadata().label());
    }
    modelPicker.setAdapter(adapter(labels));

    setUpSlot(0, R.id.sample_a, R.id.gallery_a, PICK_A);
    setUpSlot(1, R.id.sample_b, R.id.gallery_b, PICK_B);
    findViewById(R.id.compare).setEnabled(!catalog.isEmpty());
    findViewById(R.id.compare)
        .setOnClickListener(
            new View.OnClickListener() {
              @Override
              public void onClick(View v) {
                compare();
              }
            });
    String intro = samples.isEmpty()
        ? "No bundled sample crops: pick two aligned crops from the gallery."
        : "Pick a bundled sample or an aligned crop from the gallery for each side.";
    resultView.setText(catalog.isEmpty() ? getString(R.string.no_models) + "\n" + problems
        : problems.isEmpty() ? intro : intro + "\n" + problems);
  }

  private ArrayAdapter<String> adapter(List<String> items) {
    ArrayAdapter<String> adapter =
        new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
    adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
    return adapter;
  }

  private void setUpSlot(final int slot, int spinnerId, int galleryId, final int requestCode) {
    Spinner picker = findViewById(spinnerId);
    List<String> names = new ArrayList<>();
    for (String path : samples) {
      names.add(path.substring(path.lastIndexOf('/') + 1));
    }
    picker.setAdapter(adapter(names));
    // B starts on the second sample: sync-assets bundles two crops of one person, then another.
    if (slot == 1 && samples.size() > 1) {
      picker.setSelection(1);
    }
    picker.setOnItemSelectedListener(
        new AdapterView.OnItemSelectedListener() {
          @Override
          public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
            try {
              show(slot, FaceImages.fromAsset(getAssets(), samples.get(position)));
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
                startActivityForResult(pick, requestCode);
              }
            });
  }

  @Override
  protected void onActivityResult(int requestCode, int resultCode, Intent data) {
    super.onActivityResult(requestCode, resultCode, data);
    if (resultCode != RESULT_OK || data == null || data.getData() == null) {
      return;
    }
    int slot = requestCode == PICK_A ? 0 : 1;
    Uri uri = data.getData();
    try {
      show(slot, FaceImages.fromUri(getContentResolver(), uri, 2 * selectedInputSide()));
    } catch (IOException e) {
      resultView.setText(e.getMessage());
    }
  }

  /** The selected model's larger input side; decoding keeps at least twice that. */
  private int selectedInputSide() {
    if (catalog.isEmpty()) {
      return 112;
    }
    ModelMetadata m = catalog.entries().get(modelPicker.getSelectedItemPosition()).metadata();
    return Math.max(m.width(), m.height());
  }

  private void show(int slot, Bitmap bitmap) {
    faces[slot] = bitmap;
    imageViews[slot].setImageBitmap(bitmap);
  }

  private void compare() {
    if (faces[0] == null || faces[1] == null) {
      resultView.setText("Choose two faces first.");
      return;
    }
    final ModelCatalog.Entry entry = catalog.entries().get(modelPicker.getSelectedItemPosition());
    ModelMetadata metadata = entry.metadata();
    StringBuilder note = new StringBuilder();
    for (int i = 0; i < 2; i++) {
      if (faces[i].getWidth() != metadata.width() || faces[i].getHeight() != metadata.height()) {
        note.append(String.format(Locale.ROOT,
            "Face %s is %dx%d, scaled to %dx%d: it must be an aligned crop.\n",
            i == 0 ? "A" : "B", faces[i].getWidth(), faces[i].getHeight(),
            metadata.width(), metadata.height()));
      }
    }
    final byte[] a = FaceImages.toModelRgb(faces[0], metadata);
    final byte[] b = FaceImages.toModelRgb(faces[1], metadata);
    resultView.setText(note + getString(R.string.running));
    pendingNote = note.toString();
    worker.execute(
        new Runnable() {
          @Override
          public void run() {
            if (helper == null || helper.entry() != entry) {
              if (helper != null) {
                helper.close();
              }
              VerifyActivity self = VerifyActivity.this;
              helper = new FaceModelHelper(self, entry, Delegate.CPU, THREADS, self);
            }
            helper.verify(a, b);
          }
        });
  }

  @Override
  public void onVerification(Verification v) {
    showOnUiThread(pendingNote + v.summary(helper.entry().metadata().label()));
  }

  @Override
  public void onError(String message) {
    showOnUiThread(pendingNote + message);
  }

  private void showOnUiThread(final String text) {
    runOnUiThread(
        new Runnable() {
          @Override
          public void run() {
            resultView.setText(text);
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
