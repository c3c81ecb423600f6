#!/usr/bin/env bash
# The app's checks that run without an Android SDK: compiles benchcore, runs its JUnit 4 tests
# against the shared protocol fixtures, then compiles the app's Android layer against the real
# Android framework (Robolectric's android-all) and LiteRT classes from Maven Central with
# scripts/build_apk.py compile (javac -Xlint:all -Werror). Prints "N passed, N failed" last; exits non-zero
# when anything fails. Needs javac 17+ and Debian's junit4 + libandroid-json-java (or set
# JUNIT_JAR, HAMCREST_JAR, JSON_JAR).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
fixtures="${MOBILEKIT_FIXTURES:-$repo/tests/fixtures/protocol}"

first_jar() {
  for jar in "$@"; do
    if [ -f "$jar" ]; then echo "$jar"; return 0; fi
  done
  return 1
}
junit="${JUNIT_JAR:-$(first_jar /usr/share/java/junit4.jar /usr/share/java/junit4-*.jar || true)}"
hamcrest="${HAMCREST_JAR:-$(first_jar /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar /usr/share/java/hamcrest-all.jar || true)}"
json="${JSON_JAR:-$(first_jar /usr/share/java/com.android.json.jar /usr/share/java/android-json.jar /usr/share/java/json.jar || true)}"
missing=()
command -v javac >/dev/null 2>&1 || missing+=("javac (apt-get install openjdk-17-jdk-headless)")
[ -n "$junit" ] || missing+=("junit4.jar (apt-get install junit4)")
[ -n "$hamcrest" ] || missing+=("hamcrest (apt-get install junit4)")
[ -n "$json" ] || missing+=("org.json (apt-get install libandroid-json-java)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "check.sh: missing ${missing[*]}" >&2
  exit 3
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/mobilekit-android-check.XXXXXX")"
trap 'rm -rf "$out"' EXIT
javac_opts=(--release 17 -encoding UTF-8 -proc:none -Xlint:all,-options,-serial -Werror)

echo "== benchcore: compile"
javac "${javac_opts[@]}" -cp "$json" -d "$out/main" $(find "$here/benchcore/src/main/java" -name '*.java' | sort)

echo "== benchcore: compile tests"
javac "${javac_opts[@]}" -cp "$out/main:$json:$junit:$hamcrest" -d "$out/test" \
  $(find "$here/benchcore/src/test/java" -name '*.java' | sort)

echo "== app: compile against android-all + LiteRT (scripts/build_apk.py compile)"
app_status=0
"${PYTHON:-python3}" "$here/scripts/build_apk.py" compile || app_status=$?
if [ "$app_status" = 0 ]; then echo "app compiles"; else echo "app: COMPILE FAILED"; fi

echo "== benchcore: tests (fixtures: $fixtures)"
tests=$(cd "$here/benchcore/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
test_status=0
java -Dmobilekit.fixtures="$fixtures" -Dmobilekit.appCompile="$([ "$app_status" = 0 ] && echo ok || echo failed)" \
  -cp "$out/test:$out/main:$here/benchcore/src/test/resources:$json:$junit:$hamcrest" \
  dev.mobilekit.benchcore.TestMain $tests || test_status=$?

if [ "$app_status" != 0 ] || [ "$test_status" != 0 ]; then
  exit 1
fi
