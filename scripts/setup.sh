#!/usr/bin/env bash
# Sets up a fresh machine for mobilekit: a virtualenv in .venv with the package and its dev tools,
# and with --test the system packages the test suite drives for real (AOSP adb, JUnit 4, org.json,
# Chromium) plus the companion app's APK, built from android_app/ with Maven Central and Debian's
# Android tools (--apk does only the APK part). Safe to rerun: it only does what is missing, and the
# APK build is skipped while its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=0
want_apk=0
[ "${1:-}" = "--test" ] && want_test_tools=1 && want_apk=1
[ "${1:-}" = "--apk" ] && want_apk=1

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.mobilekit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing mobilekit and its dependencies into .venv (about a minute)" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi

missing=()
if [ "$want_test_tools" = 1 ]; then
  command -v adb >/dev/null 2>&1 || missing+=(adb)
  [ -f /usr/share/java/junit4.jar ] || missing+=(junit4)
  [ -f /usr/share/java/com.android.json.jar ] || missing+=(libandroid-json-java)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ "$want_test_tools" = 1 ] || [ "$want_apk" = 1 ]; then
  # The APK build: JDK, Maven (Maven Central), and Debian's Android build tools.
  command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  command -v aapt >/dev/null 2>&1 || missing+=(aapt)
  [ -f /usr/share/android-framework-res/framework-res.apk ] || missing+=(android-framework-res)
  command -v apksigner >/dev/null 2>&1 || missing+=(apksigner)
  command -v dexdump >/dev/null 2>&1 || missing+=(dexdump)
  command -v zipalign >/dev/null 2>&1 || missing+=(zipalign)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing system packages: ${missing[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: missing system packages: ${missing[*]} (install them with: sudo apt-get install ${missing[*]}); the tests that need them will be skipped" >&2
    fi
  fi
fi

if [ "$want_apk" = 1 ]; then
  # Package data of mobilekit (mobilekit/device/companion/), kept out of git: built here, carried
  # by a wheel built after it.
  if .venv/bin/python android_app/scripts/build_apk.py; then
    :
  else
    status=$?
    if [ "$status" = 3 ]; then
      echo "setup: the companion APK was not built (a tool is missing, see above); the tests that need it will be skipped" >&2
    else
      echo "setup: building the companion APK failed (exit $status)" >&2
      exit "$status"
    fi
  fi
fi
