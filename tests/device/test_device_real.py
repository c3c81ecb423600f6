"""The same flow on a real phone (whatever `adb devices` lists): skipped unless --device-tests.

    .venv/bin/python -m pytest tests/test_device_real.py --device-tests -q
needs a phone with USB debugging on (accepted on the phone) and the companion APK built by
Android Studio (or MOBILEKIT_APK=path/to/app-debug.apk)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mobilekit.cli import cli

pytestmark = pytest.mark.device


@pytest.fixture
def serial():
    from mobilekit.device.discovery import attached_serials

    found = attached_serials()
    if not found:
        pytest.skip("no phone ready: `adb devices` lists none in state 'device'")
    return found[0]


def test_real_phone_devices_install_and_bench(serial, tiny_tflite_path, digits, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["devices", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0
    row = next(row for row in json.loads(listed.stdout) if row["serial"] == serial)
    assert row["state"] == "device" and row["sdk_level"] and row["abi"]
    installed = runner.invoke(cli, ["app", "install", "--serial", serial], catch_exceptions=False)
    assert installed.exit_code == 0, installed.output
    _, _, x_test, y_test = digits
    data = tmp_path / "data.npz"
    np.savez(data, x=x_test[:50], y=y_test[:50])
    out = tmp_path / "out"
    args = ["bench", str(tiny_tflite_path), "--device", serial, "--delegate", "cpu,xnnpack,gpu,nnapi",
            "--threads", "1,4", "--runs", "20", "--data", str(data), "-o", str(out), "--json"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert all(run["status"] == "ok" and run["runner_kind"] == "android" for run in summary["runs"])
    assert all(run["accuracy"]["top1"] > 0.5 for run in summary["runs"])
    again = runner.invoke(cli, args, catch_exceptions=False)
    assert all(run["resumed"] for run in json.loads(again.stdout)["runs"])
