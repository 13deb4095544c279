// JVM test of the verification screen: two bundled photos through detect, align, embed, to a decision.
package com.mobiface.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.os.Looper;
import android.widget.ImageView;
import android.widget.TextView;
import org.junit.Rule;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.annotation.Config;

/**
 * Starts {@link VerifyActivity} with the APK's real assets (the bundled photos, the detector's
 * networks and the embedding model) and presses Compare: the photos are decoded, the Java MTCNN,
 * alignment and embedding run; only the interpreters are stand-ins ({@link FakeMtcnnInterpreter},
 * {@link FakeInterpreter}), since LiteRT's native library cannot load on the JVM.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 34)
public class VerifyActivityTest {
  private static final long TIMEOUT_MS = 120_000;  // a wait for completion, not a speed target: shared CI cores are slow
  @Rule public final FakeLiteRt liteRt = new FakeLiteRt();

  @Test
  public void comparesTwoBundledPhotosEndToEnd() throws Exception {
    try (ActivityController<VerifyActivity> controller =
        Robolectric.buildActivity(VerifyActivity.class).setup()) {
      VerifyActivity activity = controller.get();
      shadowOf(Looper.getMainLooper()).idle();
      assertTrue("Compare is enabled", activity.findViewById(R.id.compare).isEnabled());
      activity.findViewById(R.id.compare).performClick();
      TextView result = activity.findViewById(R.id.result);
      long deadline = System.currentTimeMillis() + TIMEOUT_MS;
      while (!result.getText().toString().contains("cosine") && System.currentTimeMillis() < deadline) {
        shadowOf(Looper.getMainLooper()).idle();
        Thread.sleep(20);
      }
      String text = result.getText().toString();
      // FakeInterpreter gives every face the same embedding: cosine 1, the same person.
      assertTrue(text, text.contains("cosine similarity 1.0000"));
      assertTrue(text, text.contains("A: ") && text.contains("1 face(s)") && text.contains("detect "));
      assertEquals(3, liteRt.networks.size());
      for (int id : new int[] {R.id.aligned_a, R.id.aligned_b}) {
        ImageView aligned = activity.findViewById(id);
        assertNotNull("the aligned face is shown", aligned.getDrawable());
      }
    }
  }
}
