#!/usr/bin/env bash
# `make apk-gradle`: `check` tells in one line what is missing to build the APK with Gradle;
# `build` runs Gradle. It needs the Android SDK and Google's Maven (for the Android Gradle Plugin)
# besides Maven Central. `make apk` builds the same app from the package registries alone.
set -euo pipefail
app="$(cd "$(dirname "$0")/.." && pwd)"
min_gradle="8.13"  # the Android Gradle Plugin 8.13 needs Gradle 8.13 or later

sdk_dir() {
  local dir="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}}"
  if [ -z "$dir" ] && [ -f "$app/local.properties" ]; then
    dir="$(sed -n 's/^sdk\.dir=//p' "$app/local.properties" | tail -n 1)"
  fi
  [ -n "$dir" ] && [ -d "$dir" ] && echo "$dir"
}

# Prints the command to run Gradle with: the wrapper when it is complete, else a recent gradle.
gradle_cmd() {
  if [ -x "$app/gradlew" ] && [ -f "$app/gradle/wrapper/gradle-wrapper.jar" ]; then
    echo "./gradlew"
    return 0
  fi
  if command -v gradle >/dev/null 2>&1; then
    local version
    version="$(gradle --version 2>/dev/null | sed -n 's/^Gradle \([0-9][0-9.]*\).*/\1/p' | head -n 1)"
    if [ -n "$version" ] && [ "$(printf '%s\n%s\n' "$min_gradle" "$version" | sort -V | head -n 1)" = "$min_gradle" ]; then
      echo "gradle"
      return 0
    fi
  fi
  return 1
}

case "${1:-}" in
  check)
    if ! sdk_dir >/dev/null; then
      echo "apk-gradle: no Android SDK found: set ANDROID_HOME (or sdk.dir in android_demo/local.properties), or build without it: make apk" >&2
      exit 1
    fi
    if ! gradle_cmd >/dev/null; then
      echo "apk-gradle: no Gradle wrapper jar and no gradle >= $min_gradle on PATH: run \`gradle wrapper\` in android_demo/ or open it in Android Studio" >&2
      exit 1
    fi
    echo "apk-gradle: Android SDK at $(sdk_dir), Gradle: $(gradle_cmd)"
    ;;
  build)
    cmd="$(gradle_cmd)"
    cd "$app"
    $cmd assembleDebug
    echo "apk-gradle: $app/app/build/outputs/apk/debug/app-debug.apk (install: adb install -r <that file>)"
    ;;
  *)
    echo "usage: $0 check|build" >&2
    exit 2
    ;;
esac
