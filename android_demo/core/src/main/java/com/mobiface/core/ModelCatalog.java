// The models an app bundles: metadata files paired with their .tflite, and lookup by name.
package com.mobiface.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The bundled models, each a {@code .tflite} asset with its metadata JSON beside it. Pickers list
 * {@link #models()} and {@link #precisions(String)}; the headless benchmark calls
 * {@link #find(String, String)}.
 */
public final class ModelCatalog {
  /** The default precision when a request names none. */
  public static final String PREFERRED_PRECISION = "float32";

  /** A model file and what its metadata says. */
  public static final class Entry {
    private final String modelFile;
    private final ModelMetadata metadata;

    public Entry(String modelFile, ModelMetadata metadata) {
      this.modelFile = modelFile;
      this.metadata = metadata;
    }

    /** The .tflite file (asset path) this metadata describes. */
    public String modelFile() {
      return modelFile;
    }

    public ModelMetadata metadata() {
      return metadata;
    }
  }

  private final List<Entry> entries;

  public ModelCatalog(List<Entry> entries) {
    this.entries = Collections.unmodifiableList(new ArrayList<>(entries));
  }

  /**
   * The .tflite a metadata file describes: {@code x.json -> x.tflite} and
   * {@code x.tflite.json -> x.tflite} (the export writes metadata as {@code <file>.json}).
   */
  public static String modelFileFor(String metadataFile) {
    if (metadataFile == null || !metadataFile.endsWith(".json")) {
      throw new IllegalArgumentException("not a metadata file name: \"" + metadataFile + "\"");
    }
    String stem = metadataFile.substring(0, metadataFile.length() - ".json".length());
    return stem.endsWith(".tflite") ? stem : stem + ".tflite";
  }

  public List<Entry> entries() {
    return entries;
  }

  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** Distinct model names, in catalog order. */
  public List<String> models() {
    List<String> names = new ArrayList<>();
    for (Entry e : entries) {
      if (!names.contains(e.metadata().model())) {
        names.add(e.metadata().model());
      }
    }
    return names;
  }

  /** The precisions bundled for one model, in catalog order. */
  public List<String> precisions(String model) {
    List<String> result = new ArrayList<>();
    for (Entry e : entries) {
      if (e.metadata().model().equals(model) && !result.contains(e.metadata().precision())) {
        result.add(e.metadata().precision());
      }
    }
    return result;
  }

  /**
   * Finds a model by its metadata name (or by its .tflite file name, with or without the
   * extension) and precision; a null precision prefers {@value #PREFERRED_PRECISION}, else the
   * first bundled. The error lists what is bundled.
   */
  public Entry find(String model, String precision) {
    List<Entry> candidates = new ArrayList<>();
    for (Entry e : entries) {
      String file = e.modelFile().substring(e.modelFile().lastIndexOf('/') + 1);
      if (e.metadata().model().equals(model)
          || file.equals(model)
          || file.equals(model + ".tflite")) {
        candidates.add(e);
      }
    }
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("no bundled model \"" + model + "\"; bundled: " + describe());
    }
    String wanted = precision == null ? PREFERRED_PRECISION : precision;
    for (Entry e : candidates) {
      if (e.metadata().precision().equals(wanted)) {
        return e;
      }
    }
    if (precision == null) {
      return candidates.get(0);
    }
    throw new IllegalArgumentException(
        "no precision \"" + precision + "\" for model \"" + model + "\"; bundled: " + describe());
  }

  /** "model / precision (file)" for every entry, for messages. */
  public String describe() {
    if (entries.isEmpty()) {
      return "none (make apk bundles the project's model; make android-assets for Gradle)";
    }
    StringBuilder out = new StringBuilder();
    for (Entry e : entries) {
      if (out.length() > 0) {
        out.append(", ");
      }
      out.append(e.metadata().label()).append(" (").append(e.modelFile()).append(')');
    }
    return out.toString();
  }
}
