# The two commands the README promises. Both set up a fresh machine first.
.PHONY: setup demo test test-java apk bench clean

setup:
	bash scripts/setup.sh

# Convert the digits sample four ways (float32, float16, dynamic, int8), evaluate each on held-out
# data, benchmark on this computer (the host target) and write reports/demo/index.html.
demo: setup
	.venv/bin/mobilekit sweep sample_models/recipes/demo.toml -m sample_models/digits_cnn.keras \
	    --data sample_models/digits_eval.npz --target host --threads 1,2 -o reports/demo --report index.html

# Everything: Python tests (real TF, LiteRT, adb server, Chromium) and the Android app's Java checks.
test:
	bash scripts/setup.sh --test
	bash scripts/test.sh

test-java:
	bash android_app/scripts/check.sh

# The companion app's APK, from android_app/ with Maven Central and Debian's Android tools (no
# Gradle, no Android SDK): mobilekit/device/companion/mobilekit-bench.apk. Skipped when unchanged.
apk:
	bash scripts/setup.sh --apk

bench: setup
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv build *.egg-info reports/demo bench/out
