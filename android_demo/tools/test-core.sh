#!/usr/bin/env bash
# Compiles android_demo/core and its JUnit 4 tests with the plain JDK and runs them (`make test-java`).
# Needs javac and Debian's junit4 (which brings hamcrest); prints JUnit's summary, then one closing
# line "java: N passed, N failed", and exits non-zero on any failure.
set -euo pipefail
core="$(cd "$(dirname "$0")/../core" && pwd)"
build="$core/build/make"
junit_jar="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest_jar="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "test-java: javac/java not found: install a JDK 11+ (apt-get install -y default-jdk-headless)" >&2
  exit 1
fi
if [ ! -f "$junit_jar" ] || [ ! -f "$hamcrest_jar" ]; then
  echo "test-java: JUnit 4 not found at $junit_jar / $hamcrest_jar: apt-get install -y junit4" >&2
  exit 1
fi

rm -rf "$build"
mkdir -p "$build/classes" "$build/test-classes"
cp="$junit_jar:$hamcrest_jar"
# --release 8: the core may only use APIs every supported Android version has (newer JDKs warn
# that 8 is obsolete: -Xlint:-options keeps that warning from failing -Werror).
find "$core/src/main/java" -name '*.java' -print0 | xargs -0 javac --release 8 -Xlint:all -Xlint:-options -Werror -d "$build/classes"
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
exit "$status"
