// Tests of the five-point alignment: golden crops written by the Python code, and the transform's properties.
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class FaceAlignmentTest {
  /** Issue 16's criterion for the Java warp against Pillow's. */
  private static final int MAX_PIXEL_DIFFERENCE = 2;
  /** The golden files written by tests/alignment_golden.py, under src/test/resources. */
  private static final String FOLDER = "alignment";

  @Test
  public void goldenCropsFromThePythonCodeAreReproduced() throws IOException {
    Map<String, Object> manifest = Json.parseObject(
        new String(TestFiles.read(FOLDER, "cases.json"), StandardCharsets.UTF_8));
    List<Object> cases = list(manifest.get("cases"));
    assertTrue("golden cases.json lists no case", cases.size() >= 3);
    for (Object item : cases) {
      Map<String, Object> golden = map(item);
      String name = (String) golden.get("name");
      int width = number(golden.get("width"));
      int height = number(golden.get("height"));
      int size = number(golden.get("size"));
      float[] landmarks = new float[10];
      List<Object> points = list(golden.get("landmarks5"));
      for (int i = 0; i < 5; i++) {
        landmarks[2 * i] = (float) (double) (Double) list(points.get(i)).get(0);
        landmarks[2 * i + 1] = (float) (double) (Double) list(points.get(i)).get(1);
      }
      double[] expectedMatrix = new double[6];
      List<Object> matrix = list(golden.get("matrix"));
      for (int i = 0; i < 6; i++) {
        expectedMatrix[i] = (Double) matrix.get(i);
      }
      assertArrayEquals(name + ": alignment matrix", expectedMatrix,
          FaceAlignment.alignmentMatrix(landmarks, size), 1e-9);

      byte[] source = TestFiles.readGzip(FOLDER, (String) golden.get("source"));
      byte[] expected = TestFiles.readGzip(FOLDER, (String) golden.get("aligned"));
      assertEquals(name + ": source bytes", width * height * 3, source.length);
      byte[] aligned = FaceAlignment.alignFace(source, width, height, landmarks, size);
      assertEquals(name + ": crop bytes", expected.length, aligned.length);
      int worst = 0;
      int differing = 0;
      for (int i = 0; i < aligned.length; i++) {
        int difference = Math.abs((aligned[i] & 0xFF) - (expected[i] & 0xFF));
        worst = Math.max(worst, difference);
        differing += difference > 0 ? 1 : 0;
      }
      assertTrue(name + ": max pixel difference " + worst + " (" + differing + " of "
          + aligned.length + " values differ)", worst <= MAX_PIXEL_DIFFERENCE);
    }
  }

  @Test
  public void templateLandmarksGiveTheIdentity() {
    double[] template = FaceAlignment.template(FaceAlignment.ALIGNED_SIZE);
    float[] landmarks = new float[10];
    for (int i = 0; i < 10; i++) {
      landmarks[i] = (float) template[i];
    }
    assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0},
        FaceAlignment.alignmentMatrix(landmarks, FaceAlignment.ALIGNED_SIZE), 1e-5);
  }

  @Test
  public void recoversAKnownSimilarity() {
    double scale = 1.7, angle = Math.toRadians(-23), tx = 12.5, ty = -4.25;
    double a = scale * Math.cos(angle), b = scale * Math.sin(angle);
    double[] src = {10, 20, 47, 22, 30, 41, 14, 60, 44, 63};
    double[] dst = new double[10];
    for (int i = 0; i < 5; i++) {
      dst[2 * i] = a * src[2 * i] - b * src[2 * i + 1] + tx;
      dst[2 * i + 1] = b * src[2 * i] + a * src[2 * i + 1] + ty;
    }
    assertArrayEquals(new double[] {a, -b, tx, b, a, ty},
        FaceAlignment.similarityTransform(src, dst), 1e-9);
  }

  @Test
  public void aMirroredFaceGetsARotationNeverAFlip() {
    double[] template = FaceAlignment.template(FaceAlignment.ALIGNED_SIZE);
    double[] src = new double[10];
    for (int i = 0; i < 5; i++) {
      src[2 * i] = 112 - template[2 * i];  // mirrored left-right
      src[2 * i + 1] = template[2 * i + 1];
    }
    double[] m = FaceAlignment.similarityTransform(src, template);
    assertTrue("determinant must be positive", m[0] * m[4] - m[1] * m[3] > 0);
  }

  @Test
  public void identityWarpCopiesTheImageAndOutsideIsBlack() {
    int size = 9;
    byte[] rgb = new byte[size * size * 3];
    for (int i = 0; i < rgb.length; i++) {
      rgb[i] = (byte) (i * 37 + 11);
    }
    assertArrayEquals(rgb, FaceAlignment.warpAffine(rgb, size, size, new double[] {1, 0, 0, 0, 1, 0}, size));
    // Shifted right by 3 pixels: the first 3 columns come from outside the image.
    byte[] shifted = FaceAlignment.warpAffine(rgb, size, size, new double[] {1, 0, 3, 0, 1, 0}, size);
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        for (int band = 0; band < 3; band++) {
          int got = shifted[(y * size + x) * 3 + band] & 0xFF;
          int want = x < 3 ? 0 : rgb[(y * size + x - 3) * 3 + band] & 0xFF;
          assertEquals("pixel " + x + "," + y, want, got);
        }
      }
    }
  }

  @Test
  public void badInputsAreRefusedWithTheirProblem() {
    final byte[] rgb = new byte[4 * 4 * 3];
    final float[] fine = {1, 1, 3, 1, 2, 2, 1, 3, 3, 3};
    assertThrows(IllegalArgumentException.class,
        () -> FaceAlignment.alignFace(rgb, 4, 4, new float[] {1, 2, 3}, 112));
    assertThrows(IllegalArgumentException.class,
        () -> FaceAlignment.alignFace(rgb, 4, 4, new float[] {5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 112));
    assertThrows(IllegalArgumentException.class,
        () -> FaceAlignment.alignFace(rgb, 4, 4, new float[] {Float.NaN, 1, 3, 1, 2, 2, 1, 3, 3, 3}, 112));
    assertThrows(IllegalArgumentException.class, () -> FaceAlignment.alignFace(rgb, 5, 4, fine, 112));
    IllegalArgumentException degenerate = assertThrows(IllegalArgumentException.class,
        () -> FaceAlignment.alignFace(rgb, 4, 4, new float[] {2, 2, 2, 2, 2, 2, 2, 2, 2, 2.1f}, 112));
    assertTrue(degenerate.getMessage(), degenerate.getMessage().contains("degenerate"));
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object value) {
    return (List<Object>) value;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object value) {
    return (Map<String, Object>) value;
  }

  private static int number(Object value) {
    return (int) (double) (Double) value;
  }
}
