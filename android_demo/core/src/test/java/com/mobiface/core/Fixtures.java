// Metadata JSON texts shared by the core tests.
package com.mobiface.core;

final class Fixtures {
  private Fixtures() {}

  /** A metadata file exactly as the contract shows it. */
  static final String FLOAT32_METADATA =
      "{\"format\": \"mobiface-metadata/1\", \"model\": \"mobiface\", \"precision\": \"float32\",\n"
          + " \"input\": {\"height\": 112, \"width\": 112, \"channels\": 3, \"layout\": \"NHWC\",\n"
          + "   \"color\": \"RGB\", \"dtype\": \"float32\", \"range\": [0, 255],\n"
          + "   \"normalization\": {\"mean\": 127.5, \"std\": 128.0, \"inside_model\": true}},\n"
          + " \"embedding_size\": 512,\n"
          + " \"threshold\": {\"cosine\": 0.35, \"far\": 0.001, \"source\": \"lfw 10-fold\"}}";

  /** Builds a metadata text with chosen fields; sizes are tiny so buffers stay readable. */
  static String metadata(
      String model, String precision, int size, String dtype, boolean insideModel, String color,
      String threshold) {
    return "{\"format\": \"mobiface-metadata/1\", \"model\": \"" + model + "\", \"precision\": \""
        + precision + "\", \"input\": {\"height\": " + size + ", \"width\": " + size
        + ", \"channels\": 3, \"layout\": \"NHWC\", \"color\": \"" + color + "\", \"dtype\": \""
        + dtype + "\", \"range\": [0, 255], \"normalization\": {\"mean\": 127.5, \"std\": 128.0, "
        + "\"inside_model\": " + insideModel + "}}, \"embedding_size\": 4, \"threshold\": "
        + threshold + "}";
  }

  static ModelMetadata parse(String text) {
    return ModelMetadata.parse(text, "test.json");
  }
}
