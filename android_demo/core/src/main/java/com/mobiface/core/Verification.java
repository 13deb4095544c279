// One compared pair of faces: their cosine similarity and the metadata threshold's decision.
package com.mobiface.core;

import java.util.Locale;

/**
 * The verification screen's result. The decision is the desktop tools' (cosine of L2-normalized
 * embeddings >= the threshold from the model's metadata); without a threshold there is none.
 */
public final class Verification {
  private final double cosine;
  private final ModelMetadata.Threshold threshold;

  public Verification(double cosine, ModelMetadata.Threshold threshold) {
    this.cosine = cosine;
    this.threshold = threshold;
  }

  /** Compares two embeddings with the threshold of {@code metadata} (which may have none). */
  public static Verification of(float[] embeddingA, float[] embeddingB, ModelMetadata metadata) {
    return new Verification(Similarity.cosine(embeddingA, embeddingB), metadata.threshold());
  }

  public double cosine() {
    return cosine;
  }

  /** Null when the metadata carries no threshold. */
  public ModelMetadata.Threshold threshold() {
    return threshold;
  }

  /** Null when the metadata carries no threshold. */
  public Boolean samePerson() {
    return threshold == null ? null : Similarity.isSamePerson(cosine, threshold);
  }

  /** What the screen shows: the model, the cosine, and the threshold with its FAR and decision. */
  public String summary(String modelLabel) {
    String similarity = String.format(Locale.ROOT, "%s\ncosine similarity %.4f\n", modelLabel, cosine);
    if (threshold == null) {
      return similarity + "The metadata has no threshold: no decision.";
    }
    return similarity
        + String.format(
            Locale.ROOT,
            "threshold %.4f (FAR %.2g, %s)\n%s",
            threshold.cosine(),
            threshold.far(),
            threshold.source(),
            samePerson() ? "SAME person" : "DIFFERENT people");
  }
}
