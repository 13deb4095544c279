// Tests of pairing metadata with model files and finding models by name and precision.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import org.junit.Test;

public class ModelCatalogTest {
  private static ModelCatalog.Entry entry(String file, String model, String precision) {
    return new ModelCatalog.Entry(
        file,
        Fixtures.parse(Fixtures.metadata(model, precision, 2, "float32", true, "RGB", "null")));
  }

  private static final ModelCatalog CATALOG =
      new ModelCatalog(
          Arrays.asList(
              entry("mobiface_int8.tflite", "mobiface", "int8"),
              entry("mobiface_float32.tflite", "mobiface", "float32"),
              entry("mobilefacenet_float16.tflite", "mobilefacenet", "float16")));

  @Test
  public void pairsMetadataWithItsModelFile() {
    assertEquals("a.tflite", ModelCatalog.modelFileFor("a.json"));
    assertEquals("a.tflite", ModelCatalog.modelFileFor("a.tflite.json"));
    assertEquals("dir/b_int8.tflite", ModelCatalog.modelFileFor("dir/b_int8.json"));
    assertThrows(IllegalArgumentException.class, () -> ModelCatalog.modelFileFor("a.tflite"));
  }

  @Test
  public void listsModelsAndPrecisions() {
    assertEquals(Arrays.asList("mobiface", "mobilefacenet"), CATALOG.models());
    assertEquals(Arrays.asList("int8", "float32"), CATALOG.precisions("mobiface"));
    assertEquals(Collections.emptyList(), CATALOG.precisions("nope"));
  }

  @Test
  public void findsByNameAndPrecision() {
    assertEquals("mobiface_int8.tflite", CATALOG.find("mobiface", "int8").modelFile());
    // no precision: float32 is preferred over catalog order
    assertEquals("mobiface_float32.tflite", CATALOG.find("mobiface", null).modelFile());
    // no float32 bundled: the first one
    assertEquals("mobilefacenet_float16.tflite", CATALOG.find("mobilefacenet", null).modelFile());
    // by file name, with or without the extension
    assertEquals("mobiface_int8.tflite", CATALOG.find("mobiface_int8", null).modelFile());
    assertEquals("mobiface_int8.tflite", CATALOG.find("mobiface_int8.tflite", "int8").modelFile());
  }

  @Test
  public void errorsListWhatIsBundled() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CATALOG.find("resnet", null));
    assertTrue(e.getMessage(), e.getMessage().contains("no bundled model \"resnet\""));
    assertTrue(e.getMessage(), e.getMessage().contains("mobilefacenet / float16 (mobilefacenet_float16.tflite)"));
    e = assertThrows(IllegalArgumentException.class, () -> CATALOG.find("mobiface", "float16"));
    assertTrue(e.getMessage(), e.getMessage().contains("no precision \"float16\""));
    ModelCatalog empty = new ModelCatalog(Collections.<ModelCatalog.Entry>emptyList());
    e = assertThrows(IllegalArgumentException.class, () -> empty.find("mobiface", null));
    assertTrue(e.getMessage(), e.getMessage().contains("make apk"));
  }
}
