// The JVM stand-ins for LiteRT in the app's interpreter factories for a test, and LiteRT back after it.
package com.mobiface.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.rules.ExternalResource;

/**
 * A JUnit rule: for each test, {@link FaceModelHelper} builds {@link FakeInterpreter}s and
 * {@link MtcnnLite} builds {@link FakeMtcnnInterpreter}s, each one made recorded here; afterwards
 * both get their LiteRT factories back. LiteRT's native library cannot load on the JVM.
 */
final class FakeLiteRt extends ExternalResource {
  final List<FakeInterpreter> models = new ArrayList<>();
  final List<FakeMtcnnInterpreter> networks = new ArrayList<>();

  @Override
  protected void before() {
    FaceModelHelper.interpreterFactory =
        new FaceModelHelper.InterpreterFactory() {
          @Override
          public FakeInterpreter create(ByteBuffer model, org.tensorflow.lite.Interpreter.Options options) {
            FakeInterpreter fake = new FakeInterpreter(model, options.getNumThreads());
            models.add(fake);
            return fake;
          }
        };
    MtcnnLite.networkFactory =
        new MtcnnLite.NetworkFactory() {
          @Override
          public FakeMtcnnInterpreter create(
              String network, ByteBuffer model, org.tensorflow.lite.Interpreter.Options options) {
            FakeMtcnnInterpreter fake = new FakeMtcnnInterpreter(network, options.getNumThreads());
            networks.add(fake);
            return fake;
          }
        };
  }

  @Override
  protected void after() {
    FaceModelHelper.interpreterFactory = FaceModelHelper.LITERT;
    MtcnnLite.networkFactory = MtcnnLite.LITERT;
  }
}
