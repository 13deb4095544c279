// Tests of pixel normalization from metadata and of reading embeddings back.
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.Test;

public class TensorCodecTest {
  /** A 2x2 image whose bytes cover black, white, mid-grey and distinct channel values. */
  private static final byte[] RGB = {
    0, (byte) 255, (byte) 128,
    10, 20, 30,
    (byte) 200, 100, 50,
    (byte) 255, 0, 1
  };

  private static ModelMetadata meta(String dtype, boolean inside, String color) {
    return Fixtures.parse(Fixtures.metadata("m", dtype, 2, dtype, inside, color, "null"));
  }

  private static float[] fillFloats(ModelMetadata m, int batch) {
    ByteBuffer buf = ByteBuffer.allocateDirect(batch * TensorCodec.inputBytesPerImage(m))
        .order(ByteOrder.nativeOrder());
    TensorCodec.fillInput(RGB, m, QuantParams.NONE, buf, batch);
    assertEquals(0, buf.remaining());
    buf.rewind();
    float[] out = new float[buf.capacity() / 4];
    buf.asFloatBuffer().get(out);
    return out;
  }

  private static byte[] fillBytes(ModelMetadata m, QuantParams q) {
    ByteBuffer buf = ByteBuffer.allocate(TensorCodec.inputBytesPerImage(m));
    TensorCodec.fillInput(RGB, m, q, buf, 1);
    return buf.array();
  }

  @Test
  public void insideModelFeedsRawPixels() {
    float[] out = fillFloats(meta("float32", true, "RGB"), 1);
    float[] expected = {0, 255, 128, 10, 20, 30, 200, 100, 50, 255, 0, 1};
    assertArrayEquals(expected, out, 0f);
  }

  @Test
  public void outsideModelAppliesMeanAndStd() {
    float[] out = fillFloats(meta("float32", false, "RGB"), 1);
    for (int i = 0; i < RGB.length; i++) {
      assertEquals(((RGB[i] & 0xff) - 127.5f) / 128f, out[i], 1e-6f);
    }
    assertEquals(-127.5f / 128f, out[0], 1e-6f);
    assertEquals(127.5f / 128f, out[1], 1e-6f);
  }

  @Test
  public void rangeRescalesPixels() {
    String text = Fixtures.metadata("m", "float32", 2, "float32", true, "RGB", "null")
        .replace("[0, 255]", "[-1, 1]");
    ModelMetadata m = Fixtures.parse(text);
    assertEquals(-1f, TensorCodec.normalizedValue(0, m), 1e-6f);
    assertEquals(1f, TensorCodec.normalizedValue(255, m), 1e-6f);
    assertEquals(2f * 51 / 255 - 1, TensorCodec.normalizedValue(51, m), 1e-6f);
  }

  @Test
  public void bgrSwapsChannels() {
    float[] out = fillFloats(meta("float32", true, "BGR"), 1);
    assertArrayEquals(new float[] {128, 255, 0}, new float[] {out[0], out[1], out[2]}, 0f);
    assertArrayEquals(new float[] {1, 0, 255}, new float[] {out[9], out[10], out[11]}, 0f);
  }

  @Test
  public void fixedBatchRepeatsTheFace() {
    float[] out = fillFloats(meta("float32", true, "RGB"), 2);
    assertEquals(24, out.length);
    for (int i = 0; i < 12; i++) {
      assertEquals(out[i], out[i + 12], 0f);
    }
  }

  @Test
  public void int8QuantizesWithTensorScaleAndZeroPoint() {
    // (x - 127.5) / 128 in [-1, 1) with scale 1/128 and zero point 0: q = round(x * 128).
    QuantParams q = new QuantParams(1f / 128, 0);
    byte[] out = fillBytes(meta("int8", false, "RGB"), q);
    assertEquals(-128, out[0]); // -127.5 rounds half away from zero to -128
    assertEquals(127, out[1]); // 127.5 -> 128, clamped to 127
    assertEquals(1, out[2]); // 0.5 -> 1
    assertEquals(-118, out[3]); // -117.5 -> -118
  }

  @Test
  public void int8InsideModelQuantizesRawPixels() {
    // Raw 0..255 with scale 1 and zero point -128: q = p - 128.
    byte[] out = fillBytes(meta("int8", true, "RGB"), new QuantParams(1f, -128));
    for (int i = 0; i < RGB.length; i++) {
      assertEquals((RGB[i] & 0xff) - 128, out[i]);
    }
  }

  @Test
  public void uint8WithUnitScaleIsTheImage() {
    byte[] out = fillBytes(meta("uint8", true, "RGB"), new QuantParams(1f, 0));
    assertArrayEquals(RGB, out);
  }

  @Test
  public void quantizeClampsToTheTypeRange() {
    QuantParams q = new QuantParams(0.5f, 10);
    assertEquals(127, TensorCodec.quantize(1000f, q, TensorType.INT8));
    assertEquals(-128, TensorCodec.quantize(-1000f, q, TensorType.INT8));
    assertEquals((byte) 255, TensorCodec.quantize(1000f, q, TensorType.UINT8));
    assertEquals(0, TensorCodec.quantize(-1000f, q, TensorType.UINT8));
    assertEquals(12, TensorCodec.quantize(1f, q, TensorType.INT8));
  }

  @Test
  public void refusesWrongSizesAndMissingQuantization() {
    ModelMetadata m = meta("float32", true, "RGB");
    ByteBuffer big = ByteBuffer.allocate(1024);
    assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.fillInput(new byte[11], m, QuantParams.NONE, big, 1));
    assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.fillInput(RGB, m, QuantParams.NONE, ByteBuffer.allocate(47), 1));
    assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.fillInput(RGB, m, QuantParams.NONE, big, 0));
    ModelMetadata int8 = meta("int8", true, "RGB");
    assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.fillInput(RGB, int8, QuantParams.NONE, big, 1));
    assertThrows(IllegalArgumentException.class, () -> new QuantParams(0f, 0));
  }

  @Test
  public void readsFloatAndDequantizesEmbeddings() {
    ByteBuffer f = ByteBuffer.allocateDirect(3 * 4).order(ByteOrder.nativeOrder());
    f.putFloat(1.5f).putFloat(-2f).putFloat(0.25f);
    assertArrayEquals(new float[] {1.5f, -2f, 0.25f},
        TensorCodec.readEmbedding(f, TensorType.FLOAT32, QuantParams.NONE, 3), 0f);

    ByteBuffer i8 = ByteBuffer.wrap(new byte[] {-128, 0, 127, 5});
    assertArrayEquals(new float[] {-0.5f * 131, -1.5f, 0.5f * 124},
        TensorCodec.readEmbedding(i8, TensorType.INT8, new QuantParams(0.5f, 3), 3), 1e-6f);

    ByteBuffer u8 = ByteBuffer.wrap(new byte[] {(byte) 255, 0});
    assertArrayEquals(new float[] {0.25f * 127, -0.25f * 128},
        TensorCodec.readEmbedding(u8, TensorType.UINT8, new QuantParams(0.25f, 128), 2), 1e-6f);

    assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.readEmbedding(u8, TensorType.FLOAT32, QuantParams.NONE, 2));
  }

  @Test
  public void argbBecomesRgb() {
    int[] argb = {0xFF102030, 0x00FFFFFF, 0x80000080};
    assertArrayEquals(
        new byte[] {0x10, 0x20, 0x30, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 0, (byte) 0x80},
        TensorCodec.rgbFromArgb(argb));
  }
}
