# The two commands the README promises. Both set up a fresh machine first.
.PHONY: setup demo test test-java bench clean

setup:
	bash scripts/setup.sh

# Convert the digits sample to float32 and int8, evaluate, benchmark on this computer, report.
demo: setup
	.venv/bin/python scripts/demo.py

# Everything: Python tests (real TF, LiteRT, adb server, Chromium) and the Android app's Java checks.
test:
	bash scripts/setup.sh --test
	bash scripts/test.sh

test-java:
	bash android_app/scripts/check.sh

bench: setup
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv build *.egg-info reports/demo bench/out
