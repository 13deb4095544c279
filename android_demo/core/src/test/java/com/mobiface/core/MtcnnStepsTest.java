// The Java MTCNN steps against detect_lite.py's results on synthetic inputs (resources/detector/steps.json).
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

public class MtcnnStepsTest {
  private static Map<String, Object> steps;
  private static byte[] image;
  private static int width;
  private static int height;

  @BeforeClass
  public static void readSteps() throws IOException {
    steps = TestFiles.readJson("detector", "steps.json");
    Map<String, Object> source = map(steps.get("image"));
    width = integer(source.get("width"));
    height = integer(source.get("height"));
    double[] pixels = doubles(source.get("pixels"));
    image = new byte[pixels.length];
    for (int i = 0; i < pixels.length; i++) {
      image[i] = (byte) (int) pixels[i];
    }
  }

  @Test
  public void pyramidScales() {
    for (Object item : list(steps.get("pyramid"))) {
      Map<String, Object> c = map(item);
      double[] expected = doubles(c.get("scales"));
      double[] scales = MtcnnSteps.pyramidScales(integer(c.get("height")), integer(c.get("width")),
          number(c.get("min_face_size")), number(c.get("scale_factor")));
      assertEquals(c + ": count", expected.length, scales.length);
      for (int k = 0; k < scales.length; k++) {
        assertEquals(c + ": scale " + k, expected[k], scales[k], Math.ulp(expected[k]));
      }
    }
  }

  @Test
  public void areaResizingIsTensorFlowsInFloat32() {
    MtcnnSteps.AreaResizer resizer = new MtcnnSteps.AreaResizer(image, width, height);
    for (Object item : list(steps.get("resize_area"))) {
      Map<String, Object> c = map(item);
      int h = integer(c.get("height"));
      int w = integer(c.get("width"));
      assertArrayEquals(h + "x" + w, floats(c.get("pixels")), resizer.resize(h, w), 0f);
    }
  }

  @Test
  public void cropsAreCropAndResizesInFloat32() {
    Map<String, Object> c = map(steps.get("crop_and_resize"));
    double[][] boxes = rows(c.get("boxes"));
    float[] crops = MtcnnSteps.cropAndResize(image, width, height, boxes, integer(c.get("size")));
    assertArrayEquals(floats(c.get("pixels")), crops, 0f);
  }

  @Test
  public void pnetBoxesAboveTheThresholdSortedByScore() {
    Map<String, Object> c = map(steps.get("pnet_boxes"));
    MtcnnNetworks.GridOutput grid = new MtcnnNetworks.GridOutput(integer(c.get("rows")),
        integer(c.get("cols")), floats(c.get("regression")), twoChannels(floats(c.get("probability"))));
    assertRows("P-Net boxes", rows(c.get("boxes")), MtcnnSteps.pnetBoxes(grid, number(c.get("threshold"))), 0);
  }

  @Test
  public void nmsKeepsWhatMtcnnKeeps() {
    Map<String, Object> c = map(steps.get("nms"));
    double[][] boxes = rows(c.get("boxes"));
    Map<String, Object> keep = map(c.get("keep"));
    for (Map.Entry<String, Object> entry : keep.entrySet()) {
      String[] parts = entry.getKey().split("_");
      int[] kept = MtcnnSteps.nms(boxes, Double.parseDouble(parts[1]), parts[0].equals("min"));
      double[] expected = doubles(entry.getValue());
      int[] want = new int[expected.length];
      for (int i = 0; i < want.length; i++) {
        want[i] = (int) expected[i];
      }
      assertArrayEquals(entry.getKey(), want, kept);
    }
  }

  @Test
  public void squareAndRegress() {
    double[][] boxes = rows(map(steps.get("nms")).get("boxes"));
    assertRows("square", rows(steps.get("square")), MtcnnSteps.square(boxes), 0);
    Map<String, Object> r = map(steps.get("regress"));
    assertRows("regress", rows(r.get("boxes")), MtcnnSteps.regress(boxes, floats(r.get("offsets"))), 0);
  }

  @Test
  public void sortingPutsTiesInReverseOrderAsNumpysReversedArgsort() {
    double[][] boxes = {{0, 0, 1, 1, 0.5}, {1, 0, 2, 1, 0.9}, {2, 0, 3, 1, 0.5}, {3, 0, 4, 1, 0.7}};
    double[][] sorted = MtcnnSteps.sortByScore(boxes);
    assertEquals(1, sorted[0][0], 0);
    assertEquals(3, sorted[1][0], 0);
    assertEquals(2, sorted[2][0], 0);
    assertEquals(0, sorted[3][0], 0);
  }

  static void assertRows(String what, double[][] expected, double[][] actual, double tolerance) {
    assertEquals(what + ": rows", expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertArrayEquals(what + ": row " + i, expected[i], actual[i], tolerance);
    }
  }

  private static float[] twoChannels(float[] face) {
    float[] both = new float[face.length * 2];
    for (int i = 0; i < face.length; i++) {
      both[2 * i] = 1f - face[i];
      both[2 * i + 1] = face[i];
    }
    return both;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object value) {
    return (List<Object>) value;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object value) {
    return (Map<String, Object>) value;
  }

  static double number(Object value) {
    return (Double) value;
  }

  static int integer(Object value) {
    return (int) number(value);
  }

  static double[] doubles(Object value) {
    List<Object> items = list(value);
    double[] out = new double[items.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = number(items.get(i));
    }
    return out;
  }

  static float[] floats(Object value) {
    double[] values = doubles(value);
    float[] out = new float[values.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) values[i];
    }
    return out;
  }

  static double[][] rows(Object value) {
    List<Object> items = list(value);
    double[][] out = new double[items.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = doubles(items.get(i));
    }
    return out;
  }
}
