#!/usr/bin/env bash
# Compiles android_demo/core and its JUnit 4 tests with the plain JDK and runs them (`make test-java`).
# Needs javac and Maven: JUnit and hamcrest come from Maven Central at the versions of
# gradle/libs.versions.toml (tools/registry.py fetch, cached under work/). Prints JUnit's summary,
# then one closing line "java: N passed, N failed", and exits non-zero on any failure.
set -euo pipefail
tools="$(cd "$(dirname "$0")" && pwd)"
core="$(cd "$tools/../core" && pwd)"
build="$core/build/make"

if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "test-java: javac/java not found: install a JDK 17 (make android-tools, or apt-get install -y default-jdk-headless)" >&2
  exit 1
fi
if [ -n "${JUNIT_JAR:-}" ] && [ -n "${HAMCREST_JAR:-}" ]; then
  junit_jar="$JUNIT_JAR"
  hamcrest_jar="$HAMCREST_JAR"
else
  jars="$("${PYTHON:-python3}" "$tools/registry.py" fetch junit hamcrestCore)" || exit 1
  junit_jar="$(echo "$jars" | sed -n 1p)"
  hamcrest_jar="$(echo "$jars" | sed -n 2p)"
fi

rm -rf "$build"
mkdir -p "$build/classes" "$build/test-classes"
cp="$junit_jar:$hamcrest_jar"
# --release 8: the core may only use APIs every supported Android version has (newer JDKs warn
# that 8 is obsolete: -Xlint:-options keeps that warning from failing -Werror).
find "$core/src/main/java" -name '*.java' -print0 | xargs -0 javac --release 8 -Xlint:all -Xlint:-options -Werror -d "$build/classes"
# Debian's dx, the registry build's dexer, cannot desugar lambdas or method references (see
# gradle/libs.versions.toml, minSdk): catch them here, before the APK build does.
indy=$(find "$build/classes" -name '*.class' -print0 | xargs -0 javap -c -p 2>/dev/null \
  | awk '/^[a-z].* class |^[a-z].* interface |^class |^interface /{cls=$0} /invokedynamic/{print cls}' | sort -u)
if [ -n "$indy" ]; then
  echo "test-java: lambdas or method references in the core (dx cannot dex them; use an anonymous class):" >&2
  echo "$indy" >&2
  exit 1
fi
find "$core/src/test/java" -name '*.java' -print0 \
  | xargs -0 javac --release 8 -Xlint:all -Xlint:-options -Werror -cp "$build/classes:$cp" -d "$build/test-classes"

tests=$(cd "$core/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
if [ -z "$tests" ]; then
  echo "test-java: no *Test.java under $core/src/test/java" >&2
  exit 1
fi
log="$build/junit.log"
status=0
# shellcheck disable=SC2086  # one class name per word
java -cp "$build/classes:$build/test-classes:$cp" org.junit.runner.JUnitCore $tests >"$log" 2>&1 || status=$?
cat "$log"
# JUnit 4 ends with "OK (N tests)" or "Tests run: N,  Failures: F"; restate it in the plain form.
if ok=$(grep -Eo '^OK \(([0-9]+) tests?\)' "$log" | grep -Eo '[0-9]+'); then
  echo "java: $ok passed, 0 failed"
elif line=$(grep -E '^Tests run: [0-9]+, +Failures: [0-9]+' "$log"); then
  run=$(echo "$line" | sed -E 's/^Tests run: ([0-9]+).*/\1/')
  failed=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
  echo "java: $((run - failed)) passed, $failed failed"
  [ "$status" -ne 0 ] || status=1
else
  echo "test-java: JUnit printed no summary (exit $status)" >&2
  [ "$status" -ne 0 ] || status=1
fi
if [ -z "${MOBIFACE_DETECTOR_GOLDEN:-}" ] || [ ! -f "${MOBIFACE_DETECTOR_GOLDEN}/manifest.json" ]; then
  # JUnit counts a test skipped by an assumption as passed: say it here.
  echo "test-java: MtcnnDetectorGoldenTest skipped: no recorded LFW photos (make test-java writes them when LFW is there)"
fi
exit "$status"
