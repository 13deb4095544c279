// Tests of metadata parsing against the mobiface-metadata/1 contract.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class ModelMetadataTest {
  @Test
  public void readsTheContractExample() {
    ModelMetadata m = Fixtures.parse(Fixtures.FLOAT32_METADATA);
    assertEquals("mobiface", m.model());
    assertEquals("float32", m.precision());
    assertEquals(112, m.height());
    assertEquals(112, m.width());
    assertEquals(3, m.channels());
    assertFalse(m.isBgr());
    assertEquals(TensorType.FLOAT32, m.dtype());
    assertEquals(0f, m.rangeMin(), 0);
    assertEquals(255f, m.rangeMax(), 0);
    assertEquals(127.5f, m.mean(), 0);
    assertEquals(128f, m.std(), 0);
    assertTrue(m.normalizationInsideModel());
    assertEquals(512, m.embeddingSize());
    assertEquals(0.35, m.threshold().cosine(), 0);
    assertEquals(0.001, m.threshold().far(), 0);
    assertEquals("lfw 10-fold", m.threshold().source());
    assertEquals("mobiface / float32", m.label());
  }

  @Test
  public void nullThresholdAndInt8Input() {
    ModelMetadata m =
        Fixtures.parse(Fixtures.metadata("mobiface", "int8", 2, "int8", false, "RGB", "null"));
    assertNull(m.threshold());
    assertEquals(TensorType.INT8, m.dtype());
    assertFalse(m.normalizationInsideModel());
  }

  @Test
  public void ignoresUnknownKeys() {
    String text = Fixtures.FLOAT32_METADATA.replace("\"embedding_size\"", "\"later\": [1], \"embedding_size\"");
    assertEquals(512, Fixtures.parse(text).embeddingSize());
  }

  @Test
  public void acceptsBgr() {
    assertTrue(
        Fixtures.parse(Fixtures.metadata("m", "float32", 2, "float32", true, "BGR", "null")).isBgr());
  }

  private static void assertRefused(String text, String expectedPart) {
    MetadataException e = assertThrows(MetadataException.class, () -> Fixtures.parse(text));
    assertTrue(e.getMessage(), e.getMessage().startsWith("test.json: "));
    assertTrue(e.getMessage(), e.getMessage().contains(expectedPart));
  }

  @Test
  public void refusesBrokenFilesNamingFileAndKey() {
    String ok = Fixtures.FLOAT32_METADATA;
    assertRefused("{\"format\": ", "not valid JSON");
    assertRefused(ok.replace("mobiface-metadata/1", "mobiface-metadata/2"), "format is \"mobiface-metadata/2\"");
    assertRefused(ok.replace("\"embedding_size\": 512,", ""), "missing key \"embedding_size\"");
    assertRefused(ok.replace("\"height\": 112", "\"height\": \"112\""), "input.height must be a number");
    assertRefused(ok.replace("\"height\": 112", "\"height\": 11.5"), "input.height must be a positive integer");
    assertRefused(ok.replace("\"channels\": 3", "\"channels\": 1"), "input.channels is 1");
    assertRefused(ok.replace("NHWC", "NCHW"), "input.layout");
    assertRefused(ok.replace("\"RGB\"", "\"YUV\""), "input.color");
    assertRefused(ok.replace("\"dtype\": \"float32\"", "\"dtype\": \"float16\""), "input.dtype");
    assertRefused(ok.replace("[0, 255]", "[255, 0]"), "input.range must rise");
    assertRefused(ok.replace("[0, 255]", "[0]"), "input.range must be [low, high]");
    assertRefused(ok.replace("\"std\": 128.0", "\"std\": 0"), "std must be > 0");
    assertRefused(ok.replace("\"inside_model\": true", "\"inside_model\": 1"), "inside_model must be true or false");
    assertRefused(ok.replace("\"cosine\": 0.35", "\"cosine\": 1.5"), "threshold.cosine must lie in [-1, 1]");
    assertRefused(ok.replace("\"model\": \"mobiface\"", "\"model\": \" \""), "model is empty");
    assertRefused(Fixtures.metadata("m", "float32", 2, "float32", true, "RGB", "3"), "threshold must be an object or null");
  }
}
