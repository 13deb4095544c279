// Embedding comparison: cosine similarity of L2-normalized vectors, and the threshold decision.
package com.mobiface.core;

/** Cosine similarity and the same-person decision, as the desktop tools compute them. */
public final class Similarity {
  private Similarity() {}

  /** Returns a unit-length copy; a zero (or non-finite) vector has no direction and is refused. */
  public static float[] l2Normalize(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += (double) x * x;
    }
    double norm = Math.sqrt(sum);
    if (!(norm > 0) || Double.isInfinite(norm)) {
      throw new IllegalArgumentException(
          "cannot L2-normalize an embedding with norm " + norm + " (length " + v.length + ")");
    }
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] / norm);
    }
    return out;
  }

  /** Cosine similarity in [-1, 1] of two embeddings of the same length (normalized here). */
  public static double cosine(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "embeddings differ in length: " + a.length + " vs " + b.length);
    }
    float[] na = l2Normalize(a);
    float[] nb = l2Normalize(b);
    double dot = 0;
    for (int i = 0; i < na.length; i++) {
      dot += (double) na[i] * nb[i];
    }
    return Math.max(-1.0, Math.min(1.0, dot));
  }

  /** Same person when the cosine reaches the threshold (>=, as in the desktop evaluation). */
  public static boolean isSamePerson(double cosine, ModelMetadata.Threshold threshold) {
    if (threshold == null) {
      throw new IllegalArgumentException("the model's metadata has no threshold to decide with");
    }
    return cosine >= threshold.cosine();
  }
}
