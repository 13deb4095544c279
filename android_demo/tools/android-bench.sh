#!/usr/bin/env bash
# `make android-bench`: runs the headless benchmark on the connected phone and pulls its JSON.
#   MODEL PRECISION DELEGATE THREADS RUNS WARMUP  the benchmark (PRECISION empty: float32 if bundled)
#   OUT_DIR   where the JSON goes (default work/android/bench); TIMEOUT seconds to wait (default 600)
#   APK       the APK to suggest installing when the app is missing (default: make apk's)
set -euo pipefail
pkg="com.mobiface.bench"
model="${MODEL:-mobiface}"
precision="${PRECISION:-}"
delegate="${DELEGATE:-cpu}"
threads="${THREADS:-1}"
runs="${RUNS:-200}"
warmup="${WARMUP:-20}"
out_dir="${OUT_DIR:-${MOBIFACE_WORK:-work}/android/bench}"
apk="${APK:-${MOBIFACE_WORK:-work}/android/mobiface-bench-debug.apk}"
timeout="${TIMEOUT:-600}"

if ! command -v adb >/dev/null 2>&1; then
  echo "android-bench: adb not found: install the Android platform-tools and connect a phone" >&2
  exit 1
fi
if [ "$(adb get-state 2>/dev/null || true)" != "device" ]; then
  echo "android-bench: no phone ready: connect one with USB debugging on (adb devices lists none)" >&2
  exit 1
fi
if ! adb shell pm path "$pkg" 2>/dev/null | grep -q '^package:'; then
  echo "android-bench: $pkg is not installed: make apk && adb install -r $apk" >&2
  exit 1
fi

# run-as reads the app's private files; it works because the debug APK is debuggable.
adb shell run-as "$pkg" rm -f files/bench/latest.json files/bench/latest.error
extras=(--es model "$model" --es delegate "$delegate" --ei threads "$threads" --ei runs "$runs" --ei warmup "$warmup")
if [ -n "$precision" ]; then
  extras+=(--es precision "$precision")
fi
echo "android-bench: $model ${precision:-(default precision)} on $delegate, $threads thread(s), $warmup warm-up + $runs runs"
adb shell am start -S -W -n "$pkg/.BenchmarkActivity" "${extras[@]}" >/dev/null

deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  if result="$(adb exec-out run-as "$pkg" cat files/bench/latest.json 2>/dev/null)" && [ -n "$result" ] \
      && [ "${result:0:1}" = "{" ]; then
    mkdir -p "$out_dir"
    serial="$(adb get-serialno | tr -c 'A-Za-z0-9_.-\n' '_')"
    file="$out_dir/${model}_${precision:-default}_${delegate}_t${threads}_${serial}_$(date +%Y%m%d-%H%M%S).json"
    printf '%s\n' "$result" > "$file"
    echo "$result"
    echo "android-bench: saved $file"
    exit 0
  fi
  if error="$(adb exec-out run-as "$pkg" cat files/bench/latest.error 2>/dev/null)" && [ -n "$error" ] \
      && [[ "$error" != *"No such file"* ]]; then
    echo "android-bench: the app failed: $error" >&2
    exit 1
  fi
  sleep 2
done
echo "android-bench: no result after ${timeout}s: see adb logcat -s MobiFaceBench" >&2
exit 1
