// Tests of cosine similarity and the threshold decision.
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class SimilarityTest {
  @Test
  public void normalizesToUnitLength() {
    assertArrayEquals(new float[] {0.6f, 0.8f}, Similarity.l2Normalize(new float[] {3, 4}), 1e-7f);
  }

  @Test
  public void cosineOfKnownPairs() {
    float[] a = {1, 2, 3};
    assertEquals(1.0, Similarity.cosine(a, new float[] {2, 4, 6}), 1e-7);
    assertEquals(-1.0, Similarity.cosine(a, new float[] {-1, -2, -3}), 1e-7);
    assertEquals(0.0, Similarity.cosine(new float[] {1, 0}, new float[] {0, 5}), 1e-7);
    // cos 60 degrees
    assertEquals(0.5, Similarity.cosine(new float[] {1, 0}, new float[] {1, (float) Math.sqrt(3)}), 1e-6);
  }

  @Test
  public void tinyEmbeddingsStillCompare() {
    // Untrained networks give norms near 1e-7; the cosine must not depend on an epsilon.
    float[] a = {1e-7f, 2e-7f};
    float[] b = {2e-7f, 4e-7f};
    assertEquals(1.0, Similarity.cosine(a, b), 1e-6);
  }

  @Test
  public void refusesZeroAndMismatchedVectors() {
    assertThrows(IllegalArgumentException.class, () -> Similarity.l2Normalize(new float[] {0, 0}));
    assertThrows(IllegalArgumentException.class,
        () -> Similarity.cosine(new float[] {1, 0}, new float[] {1, 0, 0}));
    assertThrows(IllegalArgumentException.class,
        () -> Similarity.l2Normalize(new float[] {Float.NaN, 1}));
  }

  @Test
  public void decisionUsesTheMetadataThreshold() {
    ModelMetadata.Threshold t = new ModelMetadata.Threshold(0.4, 1e-3, "test");
    assertTrue(Similarity.isSamePerson(0.4, t));
    assertTrue(Similarity.isSamePerson(0.9, t));
    assertFalse(Similarity.isSamePerson(0.3999, t));
    assertThrows(IllegalArgumentException.class, () -> Similarity.isSamePerson(0.5, null));
  }
}
