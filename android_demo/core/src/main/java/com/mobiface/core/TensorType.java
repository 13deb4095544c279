// The element types a MobiFace model's input or output tensor may have.
package com.mobiface.core;

import java.util.Locale;

/** Element type of a model tensor, spelled as in the metadata JSON ("float32", "int8", "uint8"). */
public enum TensorType {
  FLOAT32("float32", 4),
  INT8("int8", 1),
  UINT8("uint8", 1);

  private final String jsonName;
  private final int bytes;

  TensorType(String jsonName, int bytes) {
    this.jsonName = jsonName;
    this.bytes = bytes;
  }

  /** The name used in the metadata JSON. */
  public String jsonName() {
    return jsonName;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** True for the 8-bit types, whose values need a scale and zero point. */
  public boolean isQuantized() {
    return this != FLOAT32;
  }

  /** Parses a metadata dtype; the error names the received value and the accepted ones. */
  public static TensorType fromName(String name) {
    if (name != null) {
      String wanted = name.trim().toLowerCase(Locale.ROOT);
      for (TensorType type : values()) {
        if (type.jsonName.equals(wanted)) {
          return type;
        }
      }
    }
    throw new IllegalArgumentException(
        "unknown tensor dtype \"" + name + "\": expected float32, int8 or uint8");
  }
}
