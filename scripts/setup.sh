#!/usr/bin/env bash
# Sets up a fresh machine for mobilekit: a virtualenv in .venv with the package and its dev tools,
# and with --test the system packages the test suite drives for real (AOSP adb, JUnit 4, org.json,
# Chromium). Safe to rerun: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=0
[ "${1:-}" = "--test" ] && want_test_tools=1

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

if [ "$want_test_tools" = 1 ]; then
  missing=()
  command -v adb >/dev/null 2>&1 || missing+=(adb)
  [ -f /usr/share/java/junit4.jar ] || missing+=(junit4)
  [ -f /usr/share/java/com.android.json.jar ] || missing+=(libandroid-json-java)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
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
