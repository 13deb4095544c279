// Test data files under src/test/resources, found on the classpath or in the source tree.
package com.mobiface.core;

import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * The committed test data in {@code src/test/resources/<folder>}: from the classpath where the
 * build puts resources there (Gradle), else from the source tree (the plain-JDK harness), looked
 * up from the compiled test classes' folder and the working directory, and their parents.
 */
final class TestFiles {
  private TestFiles() {}

  private static final String[] TREE = {
    "src/test/resources", "core/src/test/resources", "android_demo/core/src/test/resources"
  };

  static byte[] read(String folder, String name) throws IOException {
    InputStream stream = TestFiles.class.getResourceAsStream("/" + folder + "/" + name);
    if (stream == null) {
      stream = new FileInputStream(locate(folder, name));
    }
    try {
      return readAll(stream);
    } finally {
      stream.close();
    }
  }

  static byte[] readGzip(String folder, String name) throws IOException {
    GZIPInputStream stream = new GZIPInputStream(new ByteArrayInputStream(read(folder, name)));
    try {
      return readAll(stream);
    } finally {
      stream.close();
    }
  }

  /** A JSON object file. */
  static Map<String, Object> readJson(String folder, String name) throws IOException {
    return Json.parseObject(new String(read(folder, name), StandardCharsets.UTF_8));
  }

  private static File locate(String folder, String name) {
    List<String> tried = new ArrayList<String>();
    // Upwards from where the test classes were compiled to (inside the module's build folder),
    // then from the working directory.
    List<File> starts = new ArrayList<File>();
    try {
      starts.add(new File(TestFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
    } catch (java.net.URISyntaxException | SecurityException | NullPointerException ex) {
      tried.add("(test class location unknown: " + ex + ")");
    }
    starts.add(new File(System.getProperty("user.dir")));
    for (File start : starts) {
      for (File dir = start.getAbsoluteFile(); dir != null; dir = dir.getParentFile()) {
        for (String tree : TREE) {
          File candidate = new File(dir, tree + "/" + folder + "/" + name);
          if (candidate.isFile()) {
            return candidate;
          }
          tried.add(candidate.getPath());
        }
      }
    }
    fail("test file " + folder + "/" + name + " is neither on the classpath nor at any of " + tried);
    return null;
  }

  static byte[] readAll(InputStream stream) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[1 << 16];
    for (int n = stream.read(buffer); n >= 0; n = stream.read(buffer)) {
      out.write(buffer, 0, n);
    }
    return out.toByteArray();
  }
}
