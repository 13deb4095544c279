// The launcher: opens the benchmark or the verification screen.
package com.mobiface.bench;

import android.app.Activity;
import android.content.Intent;
import android.os.Bundle;

/** Two buttons, one per screen. */
public final class MainActivity extends Activity {
  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_main);
    findViewById(R.id.open_benchmark)
        .setOnClickListener(v -> startActivity(new Intent(this, BenchmarkActivity.class)));
    findViewById(R.id.open_verify)
        .setOnClickListener(v -> startActivity(new Intent(this, VerifyActivity.class)));
  }
}
