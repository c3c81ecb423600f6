"""An emulated Android device speaking the real ADB wire protocol on 127.0.0.1, for tests.

``with EmulatedDevice(authorized_keys=[pub]) as device: ...`` gives a device at
``device.address`` that the AOSP adb server (`adb connect`) and adb-shell both talk to. It runs
`am instrument` (and `am start` for BenchActivity) for the companion app through mobilekit's host
runner. Its package manager reads real APKs (aapt, apksigner); see android.py.
"""
from .android import DEFAULT_INSTRUMENTATION, DEFAULT_PACKAGE, PIXEL_7_PROPS, make_test_apk
from .device import FEATURES, EmulatedDevice, Faults

__all__ = ["EmulatedDevice", "Faults", "FEATURES", "make_test_apk", "DEFAULT_PACKAGE",
           "DEFAULT_INSTRUMENTATION", "PIXEL_7_PROPS"]
