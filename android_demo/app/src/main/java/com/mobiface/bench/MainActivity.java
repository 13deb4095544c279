// The launcher: opens the benchmark or the verification screen.
package com.mobiface.bench;

import android.app.Activity;
import android.content.Intent;
import android.os.Bundle;
import android.view.View;

/** Two buttons, one per screen. (No lambdas in the app: see minSdk in gradle/libs.versions.toml.) */
public final class MainActivity extends Activity {
  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_main);
    findViewById(R.id.open_benchmark).setOnClickListener(opens(BenchmarkActivity.class));
    findViewById(R.id.open_verify).setOnClickListener(opens(VerifyActivity.class));
  }

  private View.OnClickListener opens(final Class<? extends Activity> screen) {
    return new View.OnClickListener() {
      @Override
      public void onClick(View v) {
        startActivity(new Intent(MainActivity.this, screen));
      }
    };
  }
}
