// Where LiteRT runs the model: CPU with XNNPACK, the GPU delegate, or NNAPI.
package com.mobiface.core;

import java.util.Locale;

/** The accelerator choices of the benchmark; {@link #jsonName()} is what results record. */
public enum Delegate {
  CPU("xnnpack", "CPU (XNNPACK)"),
  GPU("gpu", "GPU"),
  NNAPI("nnapi", "NNAPI");

  private final String jsonName;
  private final String label;

  Delegate(String jsonName, String label) {
    this.jsonName = jsonName;
    this.label = label;
  }

  /** The name written to result JSON ("xnnpack", "gpu", "nnapi"), as the desktop benchmark does. */
  public String jsonName() {
    return jsonName;
  }

  /** What the picker shows. */
  public String label() {
    return label;
  }

  /** Parses "cpu", "xnnpack", "gpu" or "nnapi" (any case); the error names the received value. */
  public static Delegate parse(String name) {
    if (name != null) {
      String wanted = name.trim().toLowerCase(Locale.ROOT);
      if (wanted.equals("cpu")) {
        return CPU;
      }
      for (Delegate d : values()) {
        if (d.jsonName.equals(wanted)) {
          return d;
        }
      }
    }
    throw new IllegalArgumentException(
        "unknown delegate \"" + name + "\": expected cpu (= xnnpack), gpu or nnapi");
  }
}
