// The Java detector on LFW photos, replaying the network outputs the Python detector recorded.
package com.mobiface.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * Runs {@link MtcnnDetector} on the photos {@code tests/detector_golden.py photos} recorded (LFW,
 * so generated, never committed: {@code make test-java} writes them when LFW is there, into the
 * folder named by the environment variable {@code MOBIFACE_DETECTOR_GOLDEN}). Each network call
 * answers with the outputs LiteRT gave the Python detector, after checking that the Java side
 * asks with the same input; the faces found must be the Python detector's.
 */
public class MtcnnDetectorGoldenTest {
  public static final String ENV = "MOBIFACE_DETECTOR_GOLDEN";
  /** Network inputs: the Java float32 steps are the Python ones, so only rounding-free equality. */
  private static final float INPUT_TOLERANCE = 0f;
  private static final double BOX_TOLERANCE_PX = 1e-3;

  @Test
  public void findsTheFacesThePythonDetectorFinds() throws IOException {
    String dirName = System.getenv(ENV);
    assumeTrue(ENV + " is not set (make test-java sets it when LFW is there)",
        dirName != null && !dirName.isEmpty());
    File dir = new File(dirName);
    File manifestFile = new File(dir, "manifest.json");
    assumeTrue(manifestFile + " does not exist", manifestFile.isFile());
    Map<String, Object> manifest = Json.parseObject(
        new String(readFile(manifestFile), StandardCharsets.UTF_8));
    List<Object> cases = MtcnnStepsTest.list(manifest.get("cases"));
    assertTrue("no cases in " + manifestFile, cases.size() >= 3);
    int faces = 0;
    for (Object item : cases) {
      faces += checkCase(dir, MtcnnStepsTest.map(item));
    }
    assertTrue("the recorded photos hold " + faces + " faces", faces >= cases.size());
  }

  private static int checkCase(File dir, Map<String, Object> c) throws IOException {
    String name = (String) c.get("name");
    int width = MtcnnStepsTest.integer(c.get("width"));
    int height = MtcnnStepsTest.integer(c.get("height"));
    byte[] rgb = readFile(new File(dir, (String) c.get("image")));
    Map<String, Object> settings = MtcnnStepsTest.map(c.get("settings"));
    Replay replay = new Replay(dir, name, MtcnnStepsTest.list(c.get("calls")));
    MtcnnDetector detector = new MtcnnDetector(replay,
        MtcnnStepsTest.number(settings.get("min_face_size")),
        MtcnnStepsTest.doubles(settings.get("thresholds")),
        MtcnnStepsTest.number(settings.get("scale_factor")));
    List<DetectedFace> found = detector.detect(rgb, width, height);
    assertEquals(name + ": network calls", replay.calls.size(), replay.next);

    List<Object> expected = MtcnnStepsTest.list(c.get("faces"));
    assertEquals(name + ": faces found " + found, expected.size(), found.size());
    for (int i = 0; i < expected.size(); i++) {
      Map<String, Object> want = MtcnnStepsTest.map(expected.get(i));
      DetectedFace face = found.get(i);
      String what = name + ": face " + i;
      assertArrayEquals(what + " box", MtcnnStepsTest.doubles(want.get("box")),
          new double[] {face.left, face.top, face.width, face.height}, BOX_TOLERANCE_PX);
      assertEquals(what + " score", MtcnnStepsTest.number(want.get("score")), face.score, 1e-7);
      double[] landmarks = new double[10];
      List<Object> points = MtcnnStepsTest.list(want.get("landmarks5"));
      for (int k = 0; k < 5; k++) {
        landmarks[2 * k] = MtcnnStepsTest.doubles(points.get(k))[0];
        landmarks[2 * k + 1] = MtcnnStepsTest.doubles(points.get(k))[1];
      }
      float[] got = face.landmarks5();
      double[] gotDoubles = new double[10];
      for (int k = 0; k < 10; k++) {
        gotDoubles[k] = got[k];
      }
      assertArrayEquals(what + " landmarks", landmarks, gotDoubles, BOX_TOLERANCE_PX);
    }
    return found.size();
  }

  /** Answers each network call with the recorded outputs, in the recorded order. */
  private static final class Replay implements MtcnnNetworks {
    final File dir;
    final String name;
    final List<Object> calls;
    int next;

    Replay(File dir, String name, List<Object> calls) {
      this.dir = dir;
      this.name = name;
      this.calls = calls;
    }

    private Map<String, Object> take(String network, float[] input, int[] shape) {
      String what = name + ": call " + next + " (" + network + ")";
      assertTrue(what + ": the Python detector made only " + calls.size() + " calls", next < calls.size());
      Map<String, Object> call = MtcnnStepsTest.map(calls.get(next++));
      assertEquals(what + ": network", call.get("network"), network);
      double[] recordedShape = MtcnnStepsTest.doubles(call.get("input_shape"));
      assertEquals(what + ": input shape " + Arrays.toString(shape),
          Arrays.toString(recordedShape), Arrays.toString(toDoubles(shape)));
      float[] recorded = floatFile((String) call.get("input"));
      float worst = 0;
      for (int i = 0; i < recorded.length; i++) {
        worst = Math.max(worst, Math.abs(recorded[i] - input[i]));
      }
      assertTrue(what + ": input differs from Python's by up to " + worst, worst <= INPUT_TOLERANCE);
      return MtcnnStepsTest.map(call.get("outputs"));
    }

    private float[] output(Map<String, Object> outputs, String key) {
      return floatFile((String) MtcnnStepsTest.map(outputs.get(key)).get("file"));
    }

    @Override
    public GridOutput pnet(float[] level, int height, int width) {
      Map<String, Object> outputs = take("pnet", level, new int[] {1, height, width, 3});
      double[] shape = MtcnnStepsTest.doubles(MtcnnStepsTest.map(outputs.get("box_regression")).get("shape"));
      return new GridOutput((int) shape[1], (int) shape[2], output(outputs, "box_regression"),
          output(outputs, "face_probability"));
    }

    @Override
    public BatchOutput rnet(float[] crops, int count) {
      Map<String, Object> outputs = take("rnet", crops, new int[] {count, 24, 24, 3});
      return new BatchOutput(count, output(outputs, "box_regression"), output(outputs, "face_probability"), null);
    }

    @Override
    public BatchOutput onet(float[] crops, int count) {
      Map<String, Object> outputs = take("onet", crops, new int[] {count, 48, 48, 3});
      return new BatchOutput(count, output(outputs, "box_regression"), output(outputs, "face_probability"),
          output(outputs, "landmarks"));
    }

    private float[] floatFile(String file) {
      try {
        ByteBuffer buffer = ByteBuffer.wrap(readFile(new File(dir, file))).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[buffer.remaining() / 4];
        buffer.asFloatBuffer().get(values);
        return values;
      } catch (IOException e) {
        throw new AssertionError("cannot read " + file + ": " + e);
      }
    }
  }

  private static double[] toDoubles(int[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }

  private static byte[] readFile(File file) throws IOException {
    InputStream stream = new FileInputStream(file);
    try {
      return TestFiles.readAll(stream);
    } finally {
      stream.close();
    }
  }
}
