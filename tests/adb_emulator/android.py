"""The Android parts of the emulated device: system properties, the package manager, dumpsys, and
`am instrument` for the companion app, implemented by running mobilekit's host runner.

Test-only APK convention: a real APK cannot be built without the Android SDK, so the emulated
`pm install` accepts any zip holding an `AndroidManifest.xml` whose text is JSON with the key
`"mobilekit_test_apk": 1` plus `package`, `version_code`, `version_name`, `instrumentation` (see
`make_test_apk`). Anything else fails like a real phone does: `INSTALL_FAILED_INVALID_APK`.
mobilekit itself treats the APK as an opaque file.
"""
from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .shell import Invocation

DEFAULT_PACKAGE = "dev.mobilekit.bench"
DEFAULT_INSTRUMENTATION = "dev.mobilekit.bench.BenchInstrumentation"

PIXEL_7_PROPS = {
    "ro.product.manufacturer": "Google",
    "ro.product.brand": "google",
    "ro.product.model": "Pixel 7",
    "ro.product.name": "panther",
    "ro.product.device": "panther",
    "ro.product.board": "panther",
    "ro.hardware": "panther",
    "ro.board.platform": "gs201",
    "ro.soc.manufacturer": "Google",
    "ro.soc.model": "GS201",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.build.version.security_patch": "2024-06-05",
    "ro.build.id": "AP2A.240605.024",
    "ro.build.type": "user",
    "ro.build.fingerprint": "google/panther/panther:14/AP2A.240605.024/11860263:user/release-keys",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
    "ro.product.cpu.abilist64": "arm64-v8a",
    "ro.product.cpu.abilist32": "armeabi-v7a,armeabi",
    "ro.debuggable": "0",
    "ro.secure": "1",
    "ro.adb.secure": "1",
    "persist.sys.usb.config": "adb",
    "sys.boot_completed": "1",
    "ro.kernel.version": "5.10",
}


def make_test_apk(path, *, package=DEFAULT_PACKAGE, version_code=1, version_name="0.1.0",
                  instrumentation=DEFAULT_INSTRUMENTATION, extra: dict | None = None) -> Path:
    """Write a zip that the emulated package manager installs (the test-only APK convention)."""
    manifest = {"mobilekit_test_apk": 1, "package": package, "version_code": version_code,
                "version_name": version_name, "instrumentation": instrumentation, **(extra or {})}
    path = Path(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("AndroidManifest.xml", json.dumps(manifest))
        archive.writestr("classes.dex", b"dex\n035\0" + os.urandom(256))
    return path


@dataclass
class InstalledPackage:
    package: str
    version_code: int
    version_name: str
    instrumentation: str | None
    apk_path: str
    installed_at: float


def install_commands(device, shell) -> None:
    shell.commands.update({
        "getprop": lambda inv: _getprop(device, inv),
        "pm": lambda inv: _pm(device, inv, inv.argv[1:]),
        "cmd": lambda inv: _cmd(device, inv),
        "dumpsys": lambda inv: _dumpsys(device, inv),
        "am": lambda inv: _am(device, inv),
        "settings": lambda inv: 0,
        "nproc": lambda inv: (inv.print(str(device.cores)), 0)[1],
    })


# ---- getprop --------------------------------------------------------------------------------------

def _getprop(device, inv: Invocation) -> int:
    if len(inv.argv) == 1:
        for key in sorted(device.props):
            inv.print(f"[{key}]: [{device.props[key]}]")
        return 0
    inv.print(device.props.get(inv.argv[1], inv.argv[2] if len(inv.argv) > 2 else ""))
    return 0


# ---- package manager ------------------------------------------------------------------------------

def _cmd(device, inv: Invocation) -> int:
    if len(inv.argv) >= 2 and inv.argv[1] == "package":
        return _pm(device, inv, inv.argv[2:])
    if len(inv.argv) >= 2 and inv.argv[1] == "thermalservice":
        return _dumpsys_thermal(device, inv)
    inv.error(f"cmd: Can't find service: {inv.argv[1] if len(inv.argv) > 1 else ''}")
    return 20


def _pm(device, inv: Invocation, args: list[str]) -> int:
    if not args:
        inv.error("usage: pm [list|path|install|uninstall] ...")
        return 1
    verb, rest = args[0], args[1:]
    if verb == "list" and rest[:1] == ["packages"]:
        show_version = "--show-versioncode" in rest
        names = [arg for arg in rest[1:] if not arg.startswith("-")]
        for package in sorted(device.packages):
            if names and names[0] not in package:
                continue
            line = f"package:{package}"
            if show_version:
                line += f" versionCode:{device.packages[package].version_code}"
            inv.print(line)
        return 0
    if verb == "path":
        record = device.packages.get(rest[-1] if rest else "")
        if record is None:
            return 1
        inv.print(f"package:{record.apk_path}")
        return 0
    if verb == "install":
        return _pm_install(device, inv, rest)
    if verb == "uninstall":
        package = rest[-1] if rest else ""
        if device.packages.pop(package, None) is None:
            inv.print("Failure [DELETE_FAILED_INTERNAL_ERROR]")
            return 1
        inv.print("Success")
        return 0
    inv.error(f"pm: unknown command '{verb}'")
    return 1


def _pm_install(device, inv: Invocation, args: list[str]) -> int:
    size = None
    path = None
    allow_downgrade = False
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-S":
            size = int(args[index + 1])
            index += 2
            continue
        if arg in ("-d",):
            allow_downgrade = True
        elif arg.startswith("-"):
            pass  # -r -t -g: accepted, as on a current phone
        else:
            path = arg
        index += 1
    if size is not None:
        data = bytearray()
        while len(data) < size:
            chunk = inv.stdin() if inv.stdin else b""
            if not chunk:
                break
            data += chunk
        if len(data) != size:
            inv.print(f"Failure [INSTALL_FAILED_INVALID_APK: expected {size} bytes, got {len(data)}]")
            return 1
        payload = bytes(data)
        where = "(stdin)"
    else:
        if path is None:
            inv.error("Error: APK content must be streamed")
            return 1
        host = inv.fs.host(path)
        if not host.is_file():
            inv.print(f"Failure [INSTALL_FAILED_INVALID_URI: Don't have a file at {path}]")
            return 1
        payload = host.read_bytes()
        where = path
    if device.faults.install_failure:
        inv.print(f"Failure [{device.faults.install_failure}]")
        return 1
    manifest = _read_test_manifest(payload)
    if manifest is None:
        inv.print(f"Failure [INSTALL_FAILED_INVALID_APK: Failed to parse {where}: "
                  "Failed to read manifest from APK]")
        return 1
    if device.fs.free_bytes is not None and device.fs.free_bytes < 2 * len(payload):
        inv.print("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE: Failed to override installation location]")
        return 1
    package = manifest["package"]
    current = device.packages.get(package)
    if current is not None and manifest["version_code"] < current.version_code and not allow_downgrade:
        inv.print(f"Failure [INSTALL_FAILED_VERSION_DOWNGRADE: Downgrade detected: Update version code "
                  f"{manifest['version_code']} is older than current {current.version_code}]")
        return 1
    apk_dir = f"/data/app/~~{os.urandom(6).hex()}==/{package}-{os.urandom(6).hex()}=="
    apk_host = inv.fs.host(apk_dir + "/base.apk")
    apk_host.parent.mkdir(parents=True, exist_ok=True)
    apk_host.write_bytes(payload)
    device.packages[package] = InstalledPackage(
        package=package, version_code=int(manifest["version_code"]),
        version_name=str(manifest.get("version_name", "")),
        instrumentation=manifest.get("instrumentation"), apk_path=apk_dir + "/base.apk",
        installed_at=time.time())
    device.install_log.append(package)
    inv.print("Success")
    return 0


def _read_test_manifest(payload: bytes) -> dict | None:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            manifest = json.loads(archive.read("AndroidManifest.xml"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("mobilekit_test_apk") != 1:
        return None
    if not isinstance(manifest.get("package"), str) or not isinstance(manifest.get("version_code"), int):
        return None
    return manifest


# ---- dumpsys --------------------------------------------------------------------------------------

def _dumpsys(device, inv: Invocation) -> int:
    service = inv.argv[1] if len(inv.argv) > 1 else ""
    if service == "package":
        package = inv.argv[2] if len(inv.argv) > 2 else ""
        record = device.packages.get(package)
        if record is None:
            inv.print(f"Unable to find package: {package}")
            return 0
        inv.print("Packages:")
        inv.print(f"  Package [{record.package}] (3f1d2e1):")
        inv.print(f"    userId=10245")
        inv.print(f"    codePath={posixpath.dirname(record.apk_path)}")
        inv.print(f"    versionCode={record.version_code} minSdk=26 targetSdk=35")
        inv.print(f"    versionName={record.version_name}")
        inv.print(f"    firstInstallTime={time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record.installed_at))}")
        return 0
    if service == "thermalservice":
        return _dumpsys_thermal(device, inv)
    if service == "battery":
        inv.print("Current Battery Service state:")
        inv.print("  AC powered: false\n  USB powered: true\n  Wireless powered: false")
        inv.print("  status: 2\n  health: 2\n  present: true\n  level: 85\n  scale: 100")
        inv.print(f"  voltage: 4210\n  temperature: {int(round(_thermal_now(device)[1] * 10))}")
        inv.print("  technology: Li-ion")
        return 0
    inv.error(f"Can't find service: {service}")
    return 0


def _thermal_now(device) -> tuple[int, float]:
    """Thermal status code and battery temperature: the thermal model's, else the fixed ones."""
    model = device.thermal_model
    if model is None:
        return device.thermal_status, device.battery_temp_c
    model.advance()
    return model.status_code, round(model.battery_c, 1)


def _dumpsys_thermal(device, inv: Invocation) -> int:
    status, battery = _thermal_now(device)
    inv.print("IsStatusOverride: false")
    inv.print("ThermalEventListeners:")
    inv.print("\tcallbacks: 1")
    inv.print("ThermalStatusListeners:")
    inv.print("\tcallbacks: 1")
    inv.print(f"Thermal Status: {status}")
    inv.print("Cached temperatures:")
    inv.print(f"\tTemperature{{mValue={battery}, mType=2, mName=battery, mStatus={status}}}")
    inv.print("HAL Ready: true")
    return 0


# ---- am -------------------------------------------------------------------------------------------

def _am(device, inv: Invocation) -> int:
    args = inv.argv[1:]
    if args[:1] == ["force-stop"]:
        package = args[-1]
        device.force_stop(package)
        return 0
    if args[:1] != ["instrument"]:
        inv.error(f"am: unsupported: {' '.join(args[:1])}")
        return 1
    return Instrumentation(device, inv, args[1:]).run()


class Instrumentation:
    """`am instrument -w -r -e request PATH PKG/CLASS`, as the companion app answers it."""

    def __init__(self, device, inv: Invocation, args: list[str]):
        self.device, self.inv = device, inv
        self.extras: dict[str, str] = {}
        self.component = None
        self.raw = False
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "-e" and index + 2 < len(args):
                self.extras[args[index + 1]] = args[index + 2]
                index += 3
                continue
            if arg == "-r":
                self.raw = True
            elif arg in ("-w", "--no-window-animation", "--no-hidden-api-checks"):
                pass
            elif arg == "--user":
                index += 1
            else:
                self.component = arg
            index += 1

    # -- transcript pieces: `am instrument -r` prints each bundle's keys sorted --
    def status(self, code: int, **values):
        for key in sorted(values):
            self.inv.print(f"INSTRUMENTATION_STATUS: {key}={values[key]}")
        self.inv.print(f"INSTRUMENTATION_STATUS_CODE: {code}")
        self.inv.flush()

    def stage(self, run_id: str, stage: str, done: int = 0, total: int = 1, **extra):
        extra = {**(self.device.faults.status_extra or {}), **extra}
        self.status(1, id="mobilekit", run_id=run_id, stage=stage, done=done, total=total, **extra)

    def finish(self, code: int, **values):
        for key in sorted(values):
            self.inv.print(f"INSTRUMENTATION_RESULT: {key}={values[key]}")
        self.inv.print(f"INSTRUMENTATION_CODE: {code}")
        self.inv.flush()

    def run(self) -> int:
        device = self.device
        package, _, cls = (self.component or "").partition("/")
        if cls.startswith("."):
            cls = package + cls
        record = device.packages.get(package)
        if record is None or record.instrumentation != cls:
            self.status(-1, Error=f"Unable to find instrumentation info for: ComponentInfo{{{package}/{cls}}}",
                        id="ActivityManagerService")
            self.inv.print(f"onError: commandError=true message=INSTRUMENTATION_FAILED: {package}/{cls}")
            self.inv.error(f"android.util.AndroidException: INSTRUMENTATION_FAILED: {package}/{cls}")
            self.inv.error("\tat com.android.commands.am.Instrument.run(Instrument.java:589)")
            return 1
        request_device_path = self.extras.get("request")
        if not request_device_path:
            self.finish(0, id="mobilekit", error="request: no -e request PATH given")
            return 0
        self.stage("", "load")
        faults = device.faults
        if faults.drop_during_run:
            faults.drop_during_run = False
            device.fault_log.append("dropped connection mid-run")
            device.drop_all_connections()
            return 0
        if faults.runner_crash:
            faults.runner_crash = False
            device.fault_log.append("runner crashed")
            self.inv.print("INSTRUMENTATION_RESULT: shortMsg=Process crashed.")
            self.inv.print("INSTRUMENTATION_CODE: 0")
            return 0
        if faults.run_hang_s:
            device.fault_log.append("run hung")
            stop = device.stop_event_for(package)
            deadline = time.monotonic() + faults.run_hang_s
            while time.monotonic() < deadline:
                if self.inv.cancelled.wait(0.05) or stop.is_set():
                    return 130
        result_device_path, error = self._run_host_runner(request_device_path, package)
        if error:
            self.finish(0, id="mobilekit", error=error)
            return 0
        if result_device_path is None:
            return 130
        result = json.loads(device.fs.host(result_device_path).read_text())
        run_id = result.get("run_id", "")
        self.stage(run_id, "write")
        final = {"id": "mobilekit", "protocol_version": 1, "run_id": run_id, "status": result.get("status"),
                 # Android's org.json writes "/" as "\/"; the host must read it either way
                 "result": json.dumps(result, separators=(",", ":")).replace("/", "\\/"),
                 "result_path": result_device_path}
        if result.get("error"):
            final["error"] = f"{result['error']['stage']}: {result['error']['message']}"
        run_dir = posixpath.dirname(result_device_path)
        outputs = result.get("outputs")
        # a hostile result (faults.result_patch) may hold anything here: list only plain names
        if isinstance(outputs, list) and all(isinstance(o, dict) and isinstance(o.get("file"), str) for o in outputs):
            if outputs:
                final["outputs"] = ",".join(posixpath.join(run_dir, o["file"]) for o in outputs)
        self.finish(-1, **final)
        return 0

    def _run_host_runner(self, request_device_path: str, package: str):
        """Translate the request's device paths to host paths, run the host runner, and make the
        result look like the app's (runner kind, device facts, thermal)."""
        device, fs = self.device, self.device.fs
        try:
            request_host = fs.host(request_device_path)
            request = json.loads(request_host.read_text())
        except (OSError, ValueError) as exc:
            return None, f"cannot read request {request_device_path}: {exc}"
        base = posixpath.dirname(fs.normalize(request_device_path))
        try:
            request["model"]["path"] = str(fs.host(request["model"]["path"], base))
            if request.get("inputs", {}).get("kind") == "npy":
                request["inputs"]["files"] = [str(fs.host(f, base)) for f in request["inputs"]["files"]]
            output_device = fs.normalize(request.get("output_dir") or base, base)
            request["output_dir"] = str(fs.host(output_device))
        except (KeyError, TypeError, PermissionError) as exc:
            return None, f"bad request: {exc}"
        run_id = str(request.get("run_id", ""))
        self.stage(run_id, "init")
        self.stage(run_id, "run", 0, request.get("runs", {}).get("timed_runs", 1))
        with tempfile.TemporaryDirectory(prefix="adb-emu-run-") as scratch:
            host_request = Path(scratch) / "request.json"
            host_request.write_text(json.dumps(request))
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            command = [sys.executable, "-m", "mobilekit.benchmark.host_child", str(host_request)]
            model = device.thermal_model
            if model is not None:  # the app runs on the model's clock and sensors, and heats it
                model.set_busy(True)
                thermal_start = _thermal_state(model)
                (Path(scratch) / "thermal.json").write_text(model.to_json())
                command = [sys.executable, "-m", "adb_emulator.thermal", str(Path(scratch) / "thermal.json"),
                           str(host_request)]
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                 env.get("PYTHONPATH")]))
            process = subprocess.Popen(command,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                       start_new_session=True)
            device.running[package] = process
            stop = device.stop_event_for(package)
            try:
                while process.poll() is None:
                    if self.inv.cancelled.wait(0.05) or stop.is_set():
                        _kill(process)
                        return None, None
            finally:
                device.running.pop(package, None)
                if model is not None:
                    thermal_end = _thermal_state(model)
                    model.set_busy(False)
            stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            # the host runner writes result.json even for failed runs; only "no result" is fatal
        result_host = Path(request["output_dir"]) / "result.json"
        if not result_host.is_file():
            return None, f"runner wrote no result: {stderr.strip()[-300:]}"
        result = json.loads(result_host.read_text())
        result["runner"] = {"kind": "android", "version": device.app_version_name(package),
                            "runtime": "litert", "runtime_version": result["runner"]["runtime_version"]}
        props = device.props
        # the app cannot know the serial adb gives it: null, as on a phone
        result["device"] = {"serial": None, "manufacturer": props["ro.product.manufacturer"],
                            "model": props["ro.product.model"], "soc": props.get("ro.soc.model"),
                            "os": f"Android {props['ro.build.version.release']}",
                            "sdk_level": int(props["ro.build.version.sdk"]),
                            "abi": props["ro.product.cpu.abi"], "cores": device.cores}
        if device.faults.result_output_name and result.get("outputs"):
            result["outputs"][0]["file"] = device.faults.result_output_name
        if device.faults.outputs_tamper and result.get("outputs"):
            device.faults.outputs_tamper(Path(request["output_dir"]) / result["outputs"][0]["file"])
        if model is not None:
            result["thermal"] = {"start": thermal_start, "end": thermal_end}
        else:
            state = {"status": ["none", "light", "moderate", "severe", "critical", "emergency", "shutdown"][device.thermal_status],
                     "battery_temp_c": device.battery_temp_c}
            result["thermal"] = {"start": state, "end": state}
        result.update(device.faults.result_patch or {})
        tmp = result_host.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, result_host)
        return fs.device_path(result_host), None


def _thermal_state(model) -> dict:
    model.advance()
    return {"status": model.status, "battery_temp_c": round(model.battery_c, 1)}


def _kill(process: subprocess.Popen):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


__all__ = ["make_test_apk", "install_commands", "PIXEL_7_PROPS", "InstalledPackage"]
