// Installs the JVM stand-ins for LiteRT in the app's interpreter factories, and puts LiteRT back.
package com.mobiface.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code install()} makes {@link FaceModelHelper} build {@link FakeInterpreter}s and
 * {@link MtcnnLite} build {@link FakeMtcnnInterpreter}s, recording each one made; {@code restore()}
 * gives both their LiteRT factories again. LiteRT's native library cannot load on the JVM.
 */
final class FakeLiteRt {
  final List<FakeInterpreter> models = new ArrayList<>();
  final List<FakeMtcnnInterpreter> networks = new ArrayList<>();

  static FakeLiteRt install() {
    final FakeLiteRt made = new FakeLiteRt();
    FaceModelHelper.interpreterFactory =
        new FaceModelHelper.InterpreterFactory() {
          @Override
          public FakeInterpreter create(ByteBuffer model, org.tensorflow.lite.Interpreter.Options options) {
            FakeInterpreter fake = new FakeInterpreter(model, options.getNumThreads());
            made.models.add(fake);
            return fake;
          }
        };
    MtcnnLite.networkFactory =
        new MtcnnLite.NetworkFactory() {
          @Override
          public FakeMtcnnInterpreter create(
              String network, ByteBuffer model, org.tensorflow.lite.Interpreter.Options options) {
            FakeMtcnnInterpreter fake = new FakeMtcnnInterpreter(network, options.getNumThreads());
            made.networks.add(fake);
            return fake;
          }
        };
    return made;
  }

  static void restore() {
    FaceModelHelper.interpreterFactory = FaceModelHelper.LITERT;
    MtcnnLite.networkFactory = MtcnnLite.LITERT;
  }
}
