#!/usr/bin/env bash
# Runs the whole test suite: pytest (which includes the Android app's Java checks) and prints a
# closing summary line. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export MOBILEKIT_PROGRESS=0
exec .venv/bin/python -m pytest -q --timeout=900 -p no:cacheprovider "$@"
