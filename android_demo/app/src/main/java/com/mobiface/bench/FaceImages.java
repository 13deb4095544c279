// Turns pictures (bundled samples, gallery picks) into the RGB bytes an aligned-face model takes.
package com.mobiface.bench;

import android.content.ContentResolver;
import android.content.res.AssetManager;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.net.Uri;
import com.mobiface.core.ModelMetadata;
import com.mobiface.core.TensorCodec;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;

/**
 * Decodes images and scales them to the model's input size. The crops must already be aligned
 * (the 112x112 five-point template of mobiface-align); this screen does not detect faces.
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

  /** Decodes a picked image, subsampled while decoding so large photos do not fill the memory. */
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
    try (InputStream in = resolver.openInputStream(uri)) {
      Bitmap bitmap = BitmapFactory.decodeStream(in, null, options);
      if (bitmap == null) {
        throw new IOException(uri + ": not a decodable image");
      }
      return bitmap;
    }
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
