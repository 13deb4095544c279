// Five-point face alignment: the similarity transform onto the 112x112 template and the bilinear warp.
package com.mobiface.core;

/**
 * The desktop's face alignment ({@code mobiface_tf/data/align.py}) in plain Java, so the phone
 * feeds the model the same aligned faces the desktop does.
 *
 * <p>Five landmarks (eye on the image's left, eye on the image's right, nose tip, mouth corner on
 * the image's left, on the image's right; pixel centres on integers) are mapped onto the
 * {@link #template} by the least-squares similarity transform (rotation, uniform scale, translation;
 * never a reflection), and the image is warped with bilinear sampling exactly as Pillow's {@code
 * Image.transform(..., AFFINE, ..., BILINEAR)} samples: points outside the image are black, the
 * last row and column repeat at the edges, and values are truncated, not rounded. Images are
 * interleaved RGB bytes, row by row ({@link TensorCodec#rgbFromArgb} makes them from a bitmap's
 * pixels). Checked against crops written by the Python code ({@code tests/alignment_golden.py}).
 */
public final class FaceAlignment {
  private FaceAlignment() {}

  /** Side of the aligned face the models take. */
  public static final int ALIGNED_SIZE = 112;

  /**
   * The insightface/ArcFace five-point template in a 112x112 crop, x0, y0, x1, y1, ...; float32
   * like align.py's {@code TEMPLATE_112}, so both compute from the same numbers.
   */
  private static final float[] TEMPLATE_112 = {
    38.2946f, 51.6963f,
    73.5318f, 51.5014f,
    56.0252f, 71.7366f,
    41.5493f, 92.3655f,
    70.7299f, 92.2041f,
  };

  /** The template's five points for a crop of {@code size} pixels: x0, y0, ..., x4, y4. */
  public static double[] template(int size) {
    if (size < 8) {
      throw new IllegalArgumentException("crop size must be at least 8 pixels, got " + size);
    }
    double[] points = new double[10];
    for (int i = 0; i < 10; i++) {
      points[i] = TEMPLATE_112[i] * (size / 112.0);
    }
    return points;
  }

  /** Landmarks spanning less than this (RMS distance to their centroid, pixels) are no face. */
  static final double MIN_LANDMARK_SPREAD = 1.0;

  /**
   * Aligns a face: a {@code size} x {@code size} RGB crop (interleaved bytes).
   *
   * @param rgb the whole image, interleaved R, G, B bytes, {@code width * height * 3} of them
   * @param landmarks5 the five landmarks as x0, y0, ..., x4, y4 in image pixels, template order
   * @param size crop side; {@link #ALIGNED_SIZE} gives the models' aligned face
   * @throws IllegalArgumentException on a wrong image size, wrong or non-finite landmarks, or
   *     landmarks spanning less than a pixel
   */
  public static byte[] alignFace(byte[] rgb, int width, int height, float[] landmarks5, int size) {
    return warpAffine(rgb, width, height, alignmentMatrix(landmarks5, size), size);
  }

  /** The 2x3 matrix (row-major a, b, tx, c, d, ty) mapping image points onto the template. */
  public static double[] alignmentMatrix(float[] landmarks5, int size) {
    if (landmarks5 == null || landmarks5.length != 10) {
      throw new IllegalArgumentException("need 5 landmarks as 10 numbers x0, y0, ..., x4, y4, got "
          + (landmarks5 == null ? "null" : landmarks5.length + " numbers"));
    }
    double[] src = new double[10];
    for (int i = 0; i < 10; i++) {
      src[i] = landmarks5[i];
    }
    return similarityTransform(src, template(size));
  }

  /**
   * Least-squares similarity transform from {@code src} to {@code dst} (points x0, y0, x1, y1,
   * ...): the 2x3 matrix M, row-major {a, -b, tx, b, a, ty}, minimizing the summed squared
   * distance between M applied to src and dst. In 2-D a rotation times a scale is exactly a matrix
   * [[a, -b], [b, a]], so this closed form is the solution Umeyama's method (without reflection)
   * gives, as {@code align.py} computes it.
   */
  public static double[] similarityTransform(double[] src, double[] dst) {
    if (src.length != dst.length || src.length < 4 || src.length % 2 != 0) {
      throw new IllegalArgumentException("point lists must be the same even length >= 4, got "
          + src.length + " and " + dst.length);
    }
    int n = src.length / 2;
    double srcX = 0, srcY = 0, dstX = 0, dstY = 0;
    for (int i = 0; i < n; i++) {
      checkFinite(src[2 * i], src[2 * i + 1]);
      checkFinite(dst[2 * i], dst[2 * i + 1]);
      srcX += src[2 * i];
      srcY += src[2 * i + 1];
      dstX += dst[2 * i];
      dstY += dst[2 * i + 1];
    }
    srcX /= n;
    srcY /= n;
    dstX /= n;
    dstY /= n;
    double variance = 0, dot = 0, cross = 0;
    for (int i = 0; i < n; i++) {
      double sx = src[2 * i] - srcX, sy = src[2 * i + 1] - srcY;
      double dx = dst[2 * i] - dstX, dy = dst[2 * i + 1] - dstY;
      variance += sx * sx + sy * sy;
      dot += sx * dx + sy * dy;
      cross += sx * dy - sy * dx;
    }
    double spread = Math.sqrt(variance / n);
    if (!(spread >= MIN_LANDMARK_SPREAD)) {
      throw new IllegalArgumentException("landmarks are degenerate: they span " + spread
          + " px (need >= " + MIN_LANDMARK_SPREAD + " px)");
    }
    double a = dot / variance;
    double b = cross / variance;
    return new double[] {a, -b, dstX - (a * srcX - b * srcY), b, a, dstY - (b * srcX + a * srcY)};
  }

  /**
   * Warps an RGB image by the forward 2x3 {@code matrix} (image to crop) into a {@code size} x
   * {@code size} crop, sampling as Pillow's bilinear affine transform does.
   */
  public static byte[] warpAffine(byte[] rgb, int width, int height, double[] matrix, int size) {
    if (width <= 0 || height <= 0 || rgb == null || rgb.length != width * height * 3) {
      throw new IllegalArgumentException("expected " + width + "x" + height + "x3 = "
          + ((long) width * height * 3) + " RGB bytes, got " + (rgb == null ? "null" : rgb.length));
    }
    if (matrix == null || matrix.length != 6) {
      throw new IllegalArgumentException("an affine matrix has 6 numbers (2x3, row-major)");
    }
    double[] inverse = invertAffine(matrix);
    // Pillow samples pixel centres at i + 0.5, the template (like OpenCV) puts them at i: shift in
    // and out by half a pixel, as align.py does, so a landmark lands exactly on its template point.
    double a = inverse[0], b = inverse[1], c = inverse[2] + 0.5 - 0.5 * (inverse[0] + inverse[1]);
    double d = inverse[3], e = inverse[4], f = inverse[5] + 0.5 - 0.5 * (inverse[3] + inverse[4]);
    byte[] out = new byte[size * size * 3];
    for (int y = 0; y < size; y++) {
      double yOut = y + 0.5;
      for (int x = 0; x < size; x++) {
        double xOut = x + 0.5;
        double xIn = a * xOut + b * yOut + c;
        double yIn = d * xOut + e * yOut + f;
        sampleBilinear(rgb, width, height, xIn, yIn, out, (y * size + x) * 3);
      }
    }
    return out;
  }

  // Pillow's bilinear_filter32RGB (libImaging/Geometry.c): outside [0, width) x [0, height) the
  // pixel keeps the fill (0); inside, the sample point moves to pixel-centre coordinates, the
  // neighbour column is clamped, a missing lower row repeats the upper one, and the result is
  // truncated to an integer.
  private static void sampleBilinear(
      byte[] rgb, int width, int height, double xIn, double yIn, byte[] out, int offset) {
    if (xIn < 0.0 || xIn >= width || yIn < 0.0 || yIn >= height) {
      return;
    }
    xIn -= 0.5;
    yIn -= 0.5;
    int x = (int) Math.floor(xIn);
    int y = (int) Math.floor(yIn);
    double dx = xIn - x;
    double dy = yIn - y;
    int row0 = clamp(y, height) * width;
    boolean hasRow1 = y + 1 >= 0 && y + 1 < height;
    int row1 = hasRow1 ? (y + 1) * width : row0;
    int x0 = clamp(x, width);
    int x1 = clamp(x + 1, width);
    for (int band = 0; band < 3; band++) {
      double v1 = lerp(rgb[(row0 + x0) * 3 + band] & 0xFF, rgb[(row0 + x1) * 3 + band] & 0xFF, dx);
      double v2 = hasRow1
          ? lerp(rgb[(row1 + x0) * 3 + band] & 0xFF, rgb[(row1 + x1) * 3 + band] & 0xFF, dx)
          : v1;
      out[offset + band] = (byte) (int) lerp(v1, v2, dy);
    }
  }

  private static double lerp(double a, double b, double d) {
    return a + (b - a) * d;
  }

  private static int clamp(int i, int size) {
    return i < 0 ? 0 : (i < size ? i : size - 1);
  }

  /** Inverse of the affine map {a, b, tx, c, d, ty}, in the same layout. */
  static double[] invertAffine(double[] m) {
    double det = m[0] * m[4] - m[1] * m[3];
    if (!(Math.abs(det) > 0) || Double.isInfinite(det)) {
      throw new IllegalArgumentException("the affine matrix is not invertible (determinant " + det + ")");
    }
    double a = m[4] / det, b = -m[1] / det, c = -m[3] / det, d = m[0] / det;
    return new double[] {a, b, -(a * m[2] + b * m[5]), c, d, -(c * m[2] + d * m[5])};
  }

  private static void checkFinite(double x, double y) {
    if (Double.isNaN(x) || Double.isInfinite(x) || Double.isNaN(y) || Double.isInfinite(y)) {
      throw new IllegalArgumentException("landmarks contain NaN or infinity: (" + x + ", " + y + ")");
    }
  }
}
