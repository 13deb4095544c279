// Turns pictures (bundled samples, gallery picks) into the RGB bytes an aligned-face model takes.
package com.mobiface.bench;

import android.content.ContentResolver;
import android.content.res.AssetManager;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Matrix;
import android.media.ExifInterface;
import android.net.Uri;
import com.mobiface.core.ModelMetadata;
import com.mobiface.core.TensorCodec;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;

/**
 * Decodes images (bundled assets, gallery picks, camera shots) with their EXIF orientation
 * applied, and turns RGB bytes back into bitmaps to show aligned faces.
 */
public final class FaceImages {
  private FaceImages() {}

  /** Decodes a bundled asset image. */
  public static Bitmap fromAsset(AssetManager assets, String path) throws IOException {
    try (InputStream in = assets.open(path)) {
      Bitmap bitmap = BitmapFactory.decodeStream(in);
      if (bitmap == null) {
        throw new IOException(path + ": not a decodable image");
      }
      return bitmap;
    }
  }

  /**
   * Decodes a picked image, subsampled while decoding (by powers of two, keeping the shorter side
   * at least {@code minSide}) so large photos do not fill the memory, and turned upright as its
   * EXIF orientation says.
   */
  public static Bitmap fromUri(ContentResolver resolver, Uri uri, int minSide) throws IOException {
    BitmapFactory.Options bounds = new BitmapFactory.Options();
    bounds.inJustDecodeBounds = true;
    try (InputStream in = resolver.openInputStream(uri)) {
      BitmapFactory.decodeStream(in, null, bounds);
    }
    if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
      throw new IOException(uri + ": not a decodable image");
    }
    BitmapFactory.Options options = new BitmapFactory.Options();
    options.inSampleSize = 1;
    while (Math.min(bounds.outWidth, bounds.outHeight) / (options.inSampleSize * 2) >= minSide) {
      options.inSampleSize *= 2;
    }
    Bitmap bitmap;
    try (InputStream in = resolver.openInputStream(uri)) {
      bitmap = BitmapFactory.decodeStream(in, null, options);
    }
    if (bitmap == null) {
      throw new IOException(uri + ": not a decodable image");
    }
    int orientation;
    try (InputStream in = resolver.openInputStream(uri)) {
      orientation = new ExifInterface(in).getAttributeInt(
          ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL);
    } catch (IOException e) {
      orientation = ExifInterface.ORIENTATION_NORMAL; // no EXIF: as decoded
    }
    return upright(bitmap, orientation);
  }

  /** The bitmap turned as an EXIF orientation asks (the common rotations and mirrorings). */
  static Bitmap upright(Bitmap bitmap, int orientation) {
    Matrix matrix = new Matrix();
    switch (orientation) {
      case ExifInterface.ORIENTATION_ROTATE_90:
        matrix.postRotate(90);
        break;
      case ExifInterface.ORIENTATION_ROTATE_180:
        matrix.postRotate(180);
        break;
      case ExifInterface.ORIENTATION_ROTATE_270:
        matrix.postRotate(270);
        break;
      case ExifInterface.ORIENTATION_FLIP_HORIZONTAL:
        matrix.postScale(-1, 1);
        break;
      case ExifInterface.ORIENTATION_FLIP_VERTICAL:
        matrix.postScale(1, -1);
        break;
      default:
        return bitmap;
    }
    return Bitmap.createBitmap(bitmap, 0, 0, bitmap.getWidth(), bitmap.getHeight(), matrix, true);
  }

  /** A bitmap of interleaved RGB bytes (an aligned face), to show. */
  public static Bitmap fromRgb(byte[] rgb, int width, int height) {
    int[] argb = new int[width * height];
    for (int i = 0; i < argb.length; i++) {
      argb[i] = 0xFF000000 | (rgb[3 * i] & 0xFF) << 16 | (rgb[3 * i + 1] & 0xFF) << 8 | (rgb[3 * i + 2] & 0xFF);
    }
    return Bitmap.createBitmap(argb, width, height, Bitmap.Config.ARGB_8888);
  }

  /** RGB bytes of the bitmap scaled (bilinear) to the model's input size. */
  public static byte[] toModelRgb(Bitmap bitmap, ModelMetadata metadata) {
    Bitmap scaled = Bitmap.createScaledBitmap(bitmap, metadata.width(), metadata.height(), true);
    int[] argb = new int[metadata.width() * metadata.height()];
    scaled.getPixels(argb, 0, metadata.width(), 0, 0, metadata.width(), metadata.height());
    if (scaled != bitmap) {
      scaled.recycle();
    }
    return TensorCodec.rgbFromArgb(argb);
  }

  /** A fixed pseudo-random image, the benchmark's input when no sample crop is bundled. */
  public static byte[] noise(ModelMetadata metadata) {
    byte[] rgb = new byte[metadata.width() * metadata.height() * 3];
    new Random(0).nextBytes(rgb);
    return rgb;
  }
}
