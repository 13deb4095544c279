// The metadata JSON written by the export stage next to each .tflite (format mobiface-metadata/1).
package com.mobiface.core;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the app must know to feed a model and read its answer, parsed from the contract JSON:
 *
 * <pre>
 * {"format": "mobiface-metadata/1", "model": str, "precision": str,
 *  "input": {"height": 112, "width": 112, "channels": 3, "layout": "NHWC", "color": "RGB",
 *            "dtype": "float32|int8|uint8", "range": [0, 255],
 *            "normalization": {"mean": 127.5, "std": 128.0, "inside_model": true}},
 *  "embedding_size": int,
 *  "threshold": {"cosine": float, "far": float, "source": str} | null}
 * </pre>
 *
 * Unknown keys are ignored so that later exports can add fields; missing or ill-typed required
 * keys are errors naming the file and the key.
 */
public final class ModelMetadata {
  /** The only format this parser understands. */
  public static final String FORMAT = "mobiface-metadata/1";

  private final String model;
  private final String precision;
  private final int height;
  private final int width;
  private final int channels;
  private final boolean bgr;
  private final TensorType dtype;
  private final float rangeMin;
  private final float rangeMax;
  private final float mean;
  private final float std;
  private final boolean insideModel;
  private final int embeddingSize;
  private final Threshold threshold;

  private ModelMetadata(Builder b) {
    this.model = b.model;
    this.precision = b.precision;
    this.height = b.height;
    this.width = b.width;
    this.channels = b.channels;
    this.bgr = b.bgr;
    this.dtype = b.dtype;
    this.rangeMin = b.rangeMin;
    this.rangeMax = b.rangeMax;
    this.mean = b.mean;
    this.std = b.std;
    this.insideModel = b.insideModel;
    this.embeddingSize = b.embeddingSize;
    this.threshold = b.threshold;
  }

  /**
   * Parses and checks one metadata file.
   *
   * @param text the JSON text
   * @param source the file's name, put in front of every error message
   * @throws MetadataException when the text is not JSON or breaks the contract
   */
  public static ModelMetadata parse(String text, String source) {
    Map<String, Object> root;
    try {
      root = Json.parseObject(text);
    } catch (Json.JsonException e) {
      throw new MetadataException(source, "not valid JSON: " + e.getMessage());
    }
    Reader r = new Reader(source);
    String format = r.string(root, "format");
    if (!FORMAT.equals(format)) {
      throw new MetadataException(
          source, "format is \"" + format + "\", this app reads \"" + FORMAT + "\"");
    }
    Builder b = new Builder();
    b.model = r.nonEmptyString(root, "model");
    b.precision = r.nonEmptyString(root, "precision");
    Map<String, Object> input = r.object(root, "input");
    b.height = r.positiveInt(input, "input.height");
    b.width = r.positiveInt(input, "input.width");
    b.channels = r.positiveInt(input, "input.channels");
    if (b.channels != 3) {
      throw new MetadataException(source, "input.channels is " + b.channels + ", expected 3");
    }
    String layout = r.string(input, "input.layout");
    if (!"NHWC".equalsIgnoreCase(layout)) {
      throw new MetadataException(source, "input.layout is \"" + layout + "\", expected NHWC");
    }
    String color = r.string(input, "input.color").toUpperCase(Locale.ROOT);
    if (!color.equals("RGB") && !color.equals("BGR")) {
      throw new MetadataException(source, "input.color is \"" + color + "\", expected RGB or BGR");
    }
    b.bgr = color.equals("BGR");
    try {
      b.dtype = TensorType.fromName(r.string(input, "input.dtype"));
    } catch (IllegalArgumentException e) {
      throw new MetadataException(source, "input.dtype: " + e.getMessage());
    }
    List<Object> range = r.array(input, "input.range");
    if (range.size() != 2 || !(range.get(0) instanceof Number) || !(range.get(1) instanceof Number)) {
      throw new MetadataException(source, "input.range must be [low, high], got " + Json.write(range));
    }
    b.rangeMin = ((Number) range.get(0)).floatValue();
    b.rangeMax = ((Number) range.get(1)).floatValue();
    if (!(b.rangeMax > b.rangeMin)) {
      throw new MetadataException(source, "input.range must rise, got " + Json.write(range));
    }
    Map<String, Object> norm = r.object(input, "input.normalization");
    b.mean = (float) r.number(norm, "input.normalization.mean");
    b.std = (float) r.number(norm, "input.normalization.std");
    if (!(b.std > 0)) {
      throw new MetadataException(source, "input.normalization.std must be > 0, got " + b.std);
    }
    b.insideModel = r.bool(norm, "input.normalization.inside_model");
    b.embeddingSize = r.positiveInt(root, "embedding_size");
    Object thresholdValue = root.get("threshold");
    if (thresholdValue != null) {
      if (!(thresholdValue instanceof Map)) {
        throw new MetadataException(
            source, "threshold must be an object or null, got " + Json.typeName(thresholdValue));
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> t = (Map<String, Object>) thresholdValue;
      double cosine = r.number(t, "threshold.cosine");
      if (cosine < -1 || cosine > 1) {
        throw new MetadataException(source, "threshold.cosine must lie in [-1, 1], got " + cosine);
      }
      double far = r.number(t, "threshold.far");
      Object src = t.get("source");
      b.threshold = new Threshold(cosine, far, src == null ? "" : String.valueOf(src));
    }
    return new ModelMetadata(b);
  }

  /** The model's name, e.g. "mobiface". */
  public String model() {
    return model;
  }

  /** The export precision, e.g. "float32", "float16", "dynamic_int8", "int8". */
  public String precision() {
    return precision;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  public int channels() {
    return channels;
  }

  /** True when the model wants its channels in B, G, R order. */
  public boolean isBgr() {
    return bgr;
  }

  /** The input tensor's element type. */
  public TensorType dtype() {
    return dtype;
  }

  /** The pixel value that black (0) maps to before normalization. */
  public float rangeMin() {
    return rangeMin;
  }

  /** The pixel value that white (255) maps to before normalization. */
  public float rangeMax() {
    return rangeMax;
  }

  public float mean() {
    return mean;
  }

  public float std() {
    return std;
  }

  /** When true the model normalizes itself: feed the raw range; otherwise feed (x - mean) / std. */
  public boolean normalizationInsideModel() {
    return insideModel;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  /** The recommended decision threshold, or null when the export did not choose one. */
  public Threshold threshold() {
    return threshold;
  }

  /** "model / precision", as the pickers show it. */
  public String label() {
    return model + " / " + precision;
  }

  /** A cosine threshold with the false accept rate it was chosen for. */
  public static final class Threshold {
    private final double cosine;
    private final double far;
    private final String source;

    public Threshold(double cosine, double far, String source) {
      this.cosine = cosine;
      this.far = far;
      this.source = source;
    }

    public double cosine() {
      return cosine;
    }

    public double far() {
      return far;
    }

    /** Where the threshold comes from, e.g. "LFW 10-fold". */
    public String source() {
      return source;
    }
  }

  private static final class Builder {
    String model;
    String precision;
    int height;
    int width;
    int channels;
    boolean bgr;
    TensorType dtype;
    float rangeMin;
    float rangeMax;
    float mean;
    float std;
    boolean insideModel;
    int embeddingSize;
    Threshold threshold;
  }

  /** Typed access to parsed JSON; every error names the file and the dotted key. */
  private static final class Reader {
    private final String source;

    Reader(String source) {
      this.source = source;
    }

    private Object required(Map<String, Object> map, String dottedKey) {
      String key = dottedKey.substring(dottedKey.lastIndexOf('.') + 1);
      if (!map.containsKey(key)) {
        throw new MetadataException(source, "missing key \"" + dottedKey + "\"");
      }
      return map.get(key);
    }

    private MetadataException wrongType(String key, String expected, Object value) {
      return new MetadataException(
          source, key + " must be " + expected + ", got " + Json.typeName(value) + " " + Json.write(value));
    }

    String string(Map<String, Object> map, String key) {
      Object value = required(map, key);
      if (!(value instanceof String)) {
        throw wrongType(key, "a string", value);
      }
      return (String) value;
    }

    String nonEmptyString(Map<String, Object> map, String key) {
      String value = string(map, key);
      if (value.trim().isEmpty()) {
        throw new MetadataException(source, key + " is empty");
      }
      return value;
    }

    double number(Map<String, Object> map, String key) {
      Object value = required(map, key);
      if (!(value instanceof Number)) {
        throw wrongType(key, "a number", value);
      }
      return ((Number) value).doubleValue();
    }

    int positiveInt(Map<String, Object> map, String key) {
      double value = number(map, key);
      if (value != Math.rint(value) || value < 1 || value > Integer.MAX_VALUE) {
        throw new MetadataException(source, key + " must be a positive integer, got " + value);
      }
      return (int) value;
    }

    boolean bool(Map<String, Object> map, String key) {
      Object value = required(map, key);
      if (!(value instanceof Boolean)) {
        throw wrongType(key, "true or false", value);
      }
      return (Boolean) value;
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> object(Map<String, Object> map, String key) {
      Object value = required(map, key);
      if (!(value instanceof Map)) {
        throw wrongType(key, "an object", value);
      }
      return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    List<Object> array(Map<String, Object> map, String key) {
      Object value = required(map, key);
      if (!(value instanceof List)) {
        throw wrongType(key, "an array", value);
      }
      return (List<Object>) value;
    }
  }
}
