// Tests of the verification decision and the text the verification screen shows.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class VerificationTest {
  private static final ModelMetadata.Threshold THRESHOLD =
      new ModelMetadata.Threshold(0.44, 0.001, "LFW 10 folds");

  @Test
  public void decidesAtTheMetadataThreshold() {
    ModelMetadata m = Fixtures.parse(Fixtures.FLOAT32_METADATA); // threshold 0.35
    Verification same = Verification.of(new float[] {1, 0}, new float[] {1, 0.5f}, m);
    assertEquals(0.894427, same.cosine(), 1e-6);
    assertTrue(same.samePerson());
    Verification different = Verification.of(new float[] {1, 0}, new float[] {0, 1}, m);
    assertFalse(different.samePerson());
    // >= as the desktop evaluation: the threshold itself is "same".
    assertTrue(new Verification(0.44, THRESHOLD).samePerson());
  }

  @Test
  public void summaryShowsTheThresholdWithItsFar() {
    assertEquals(
        "mobiface / int8\ncosine similarity 0.6100\nthreshold 0.4400 (FAR 0.0010, LFW 10 folds)\nSAME person",
        new Verification(0.61, THRESHOLD).summary("mobiface / int8"));
    assertTrue(new Verification(0.2, THRESHOLD).summary("m").endsWith("DIFFERENT people"));
  }

  @Test
  public void noThresholdNoDecision() {
    Verification v = new Verification(0.9, null);
    assertNull(v.samePerson());
    assertTrue(v.summary("m").endsWith("The metadata has no threshold: no decision."));
  }
}
