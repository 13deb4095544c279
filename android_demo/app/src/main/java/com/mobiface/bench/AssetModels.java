// Finds the models and sample crops that tools/sync-assets.sh put into the APK's assets.
package com.mobiface.bench;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import com.mobiface.core.MetadataException;
import com.mobiface.core.ModelCatalog;
import com.mobiface.core.ModelMetadata;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Reads every metadata JSON at the top of assets/ and pairs it with its .tflite; lists the bundled images. */
public final class AssetModels {
  /** The folder of bundled aligned face crops for the verification screen. */
  public static final String SAMPLES = "samples";

  /** The folder of bundled raw photos (faces to detect) for the verification screen and the pipeline benchmark. */
  public static final String PHOTOS = "photos";

  /** The catalog and, for each file that could not be used, one line saying why. */
  public static final class Loaded {
    public final ModelCatalog catalog;
    public final List<String> problems;

    Loaded(ModelCatalog catalog, List<String> problems) {
      this.catalog = catalog;
      this.problems = Collections.unmodifiableList(problems);
    }
  }

  private AssetModels() {}

  /** Loads all bundled models; a broken metadata file is reported, not fatal for the others. */
  public static Loaded load(AssetManager assets) throws IOException {
    String[] names = assets.list("");
    List<String> files = names == null ? new ArrayList<String>() : Arrays.asList(names);
    List<ModelCatalog.Entry> entries = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    List<String> sorted = new ArrayList<>(files);
    Collections.sort(sorted);
    for (String name : sorted) {
      if (!name.endsWith(".json")) {
        continue;
      }
      String modelFile = ModelCatalog.modelFileFor(name);
      if (!files.contains(modelFile)) {
        problems.add(name + ": no " + modelFile + " beside it");
        continue;
      }
      try {
        ModelMetadata metadata = ModelMetadata.parse(readText(assets, name), name);
        entries.add(new ModelCatalog.Entry(modelFile, metadata));
      } catch (MetadataException e) {
        problems.add(e.getMessage());
      }
    }
    return new Loaded(new ModelCatalog(entries), problems);
  }

  /** Asset paths of the bundled sample crops (JPEG or PNG), sorted; empty when none. */
  public static List<String> samples(AssetManager assets) throws IOException {
    return images(assets, SAMPLES);
  }

  private static List<String> images(AssetManager assets, String folder) throws IOException {
    String[] names = assets.list(folder);
    List<String> result = new ArrayList<>();
    if (names != null) {
      for (String name : names) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".jpg") || lower.endsWith(".jpeg") || lower.endsWith(".png")) {
          result.add(folder + "/" + name);
        }
      }
    }
    Collections.sort(result);
    return result;
  }

  /** Memory-maps an asset stored uncompressed in the APK (models: see androidResources.noCompress). */
  public static MappedByteBuffer map(AssetManager assets, String name) throws IOException {
    try (AssetFileDescriptor fd = assets.openFd(name);
        FileInputStream stream = new FileInputStream(fd.getFileDescriptor());
        FileChannel channel = stream.getChannel()) {
      return channel.map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
    }
  }

  /** Asset paths of the bundled raw photos (JPEG or PNG) for the face pipeline, sorted; empty when none. */
  public static List<String> photos(AssetManager assets) throws IOException {
    return images(assets, PHOTOS);
  }

  private static String readText(AssetManager assets, String name) throws IOException {
    try (InputStream in = assets.open(name)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      int n;
      while ((n = in.read(buffer)) > 0) {
        out.write(buffer, 0, n);
      }
      return new String(out.toByteArray(), StandardCharsets.UTF_8);
    }
  }
}
