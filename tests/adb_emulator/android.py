"""The Android parts of the emulated device: system properties, the package manager, dumpsys, and
`am instrument` / `am start` for the companion app, implemented by running mobilekit's host runner.

The package manager takes real APKs only: it reads package, versionCode, versionName, SDK levels,
the instrumentation (and its target) and the launchable activity from the APK's binary
AndroidManifest.xml with Debian's `aapt dump badging` / `aapt dump xmltree`, and the signer with
`apksigner verify --print-certs`. An unsigned or unparsable file fails as on a phone
(INSTALL_PARSE_FAILED_NO_CERTIFICATES, INSTALL_FAILED_INVALID_APK), an update signed by another
key with INSTALL_FAILED_UPDATE_INCOMPATIBLE. `make_test_apk` builds small real APKs (manifest
only) for the version and protocol cases; the companion app's own tests install the APK that
android_app/scripts/build_apk.py built. Only the dex code is not run: the host runner stands in.
"""
from __future__ import annotations

import json
import os
import posixpath
import shutil
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


REPO = Path(__file__).resolve().parents[2]
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
TEST_KEYSTORE = REPO / "android_app" / "signing" / "mobilekit-debug.p12"


def apk_tools_missing() -> str | None:
    """Why real APKs cannot be made or read here (None when they can)."""
    import shutil

    for tool, package in (("aapt", "aapt"), ("apksigner", "apksigner")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (apt-get install {package}, or scripts/setup.sh --test)"
    if not FRAMEWORK_RES.is_file():
        return f"{FRAMEWORK_RES} is missing (apt-get install android-framework-res)"
    return None


def make_test_apk(path, *, package=DEFAULT_PACKAGE, version_code=1, version_name="0.1.0",
                  instrumentation=DEFAULT_INSTRUMENTATION, target_package=None, min_sdk=26, target_sdk=35,
                  keystore=TEST_KEYSTORE, signed=True) -> Path:
    """A real APK (binary manifest, no code) linked by aapt and signed by apksigner, with the
    repo's debug key unless ``keystore`` names another PKCS12 store (password "android", alias
    "mobilekit")."""
    problem = apk_tools_missing()
    if problem:
        raise RuntimeError(problem)
    path = Path(path)
    instrumentation_xml = "" if instrumentation is None else (
        f'<instrumentation android:name="{instrumentation}" '
        f'android:targetPackage="{target_package or package}" />')
    manifest = (f'<?xml version="1.0" encoding="utf-8"?>\n'
                f'<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}">'
                f'<application android:label="test" />{instrumentation_xml}</manifest>\n')
    with tempfile.TemporaryDirectory(prefix="test-apk-") as scratch:
        scratch = Path(scratch)
        (scratch / "AndroidManifest.xml").write_text(manifest)
        unsigned = scratch / "unsigned.apk"
        subprocess.run(["aapt", "package", "-f", "-M", str(scratch / "AndroidManifest.xml"), "-I", str(FRAMEWORK_RES),
                        "--min-sdk-version", str(min_sdk), "--target-sdk-version", str(target_sdk),
                        "--version-code", str(version_code), "--version-name", version_name, "-F", str(unsigned)],
                       check=True, capture_output=True, timeout=60)
        if not signed:
            path.write_bytes(unsigned.read_bytes())
            return path
        subprocess.run(["apksigner", "sign", "--ks", str(keystore), "--ks-type", "PKCS12", "--ks-key-alias",
                        "mobilekit", "--ks-pass", "pass:android", "--key-pass", "pass:android",
                        "--v4-signing-enabled", "false", "--out", str(path), str(unsigned)],
                       check=True, capture_output=True, timeout=120)
    return path


def make_keystore(path) -> Path:
    """Another signing key (PKCS12, password "android", alias "mobilekit"), for signer-mismatch tests."""
    path = Path(path)
    subprocess.run(["keytool", "-genkeypair", "-keystore", str(path), "-storetype", "PKCS12", "-storepass", "android",
                    "-keypass", "android", "-alias", "mobilekit", "-keyalg", "RSA", "-keysize", "2048",
                    "-validity", "3650", "-dname", "CN=someone else"], check=True, capture_output=True, timeout=120)
    return path


@dataclass
class ApkInfo:
    package: str
    version_code: int
    version_name: str
    min_sdk: int | None
    target_sdk: int | None
    instrumentation: str | None
    instrumentation_target: str | None
    launchable_activity: str | None
    signer_sha256: str | None


class ApkError(Exception):
    """Why the package manager refuses an APK: the failure code and message a phone prints."""


def read_apk(path) -> ApkInfo:
    """What the package manager reads from an APK (aapt + apksigner, as a phone's PackageParser)."""
    import re

    path = str(path)
    badging = subprocess.run(["aapt", "dump", "badging", path], capture_output=True, text=True, timeout=60)
    match = re.search(r"^package: name='([^']+)' versionCode='(\d*)' versionName='([^']*)'", badging.stdout,
                      re.MULTILINE)
    if badging.returncode != 0 or not match or not match.group(2):
        raise ApkError(f"INSTALL_FAILED_INVALID_APK: Failed to parse {path}: Failed to read manifest from APK")
    package = match.group(1)

    def number(pattern):
        found = re.search(pattern, badging.stdout, re.MULTILINE)
        return int(found.group(1)) if found else None

    activity = re.search(r"^launchable-activity: name='([^']+)'", badging.stdout, re.MULTILINE)
    tree = subprocess.run(["aapt", "dump", "xmltree", path, "AndroidManifest.xml"], capture_output=True, text=True,
                          timeout=60).stdout
    instrumentation = target = None
    inside = False
    for line in tree.splitlines():
        stripped = line.strip()
        if stripped.startswith("E: "):
            inside = stripped.startswith("E: instrumentation")
        elif inside:
            found = re.match(r'A: android:(name|targetPackage)\(0x[0-9a-f]+\)="([^"]*)"', stripped)
            if found and found.group(1) == "name":
                instrumentation = found.group(2)
            elif found:
                target = found.group(2)
    if instrumentation and instrumentation.startswith("."):
        instrumentation = package + instrumentation     # PackageParser expands relative names
    certs = subprocess.run(["apksigner", "verify", "--print-certs", path], capture_output=True, text=True, timeout=120)
    signer = re.search(r"certificate SHA-256 digest: ([0-9a-f]{64})", certs.stdout)
    if certs.returncode != 0 or not signer:
        raise ApkError(f"INSTALL_PARSE_FAILED_NO_CERTIFICATES: Failed collecting certificates for {path}")
    return ApkInfo(package=package, version_code=int(match.group(2)), version_name=match.group(3),
                   min_sdk=number(r"^sdkVersion:'(\d+)'"), target_sdk=number(r"^targetSdkVersion:'(\d+)'"),
                   instrumentation=instrumentation, instrumentation_target=target,
                   launchable_activity=activity.group(1) if activity else None, signer_sha256=signer.group(1))


@dataclass
class InstalledPackage:
    package: str
    version_code: int
    version_name: str
    instrumentation: str | None
    apk_path: str
    installed_at: float
    signer_sha256: str | None = None
    activity: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None


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
    try:
        info = apk_info(payload)
    except ApkError as exc:
        inv.print(f"Failure [{str(exc).replace('{path}', where)}]")
        return 1
    if device.fs.free_bytes is not None and device.fs.free_bytes < 2 * len(payload):
        inv.print("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE: Failed to override installation location]")
        return 1
    sdk = int(device.props.get("ro.build.version.sdk", "34"))
    if info.min_sdk is not None and info.min_sdk > sdk:
        inv.print(f"Failure [INSTALL_FAILED_OLDER_SDK: Requires newer sdk version #{info.min_sdk} (current version is "
                  f"#{sdk})]")
        return 1
    package = info.package
    current = device.packages.get(package)
    if current is not None and current.signer_sha256 and current.signer_sha256 != info.signer_sha256:
        inv.print(f"Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Existing package {package} signatures do not match "
                  "newer version; ignoring!]")
        return 1
    if current is not None and info.version_code < current.version_code and not allow_downgrade:
        inv.print(f"Failure [INSTALL_FAILED_VERSION_DOWNGRADE: Downgrade detected: Update version code "
                  f"{info.version_code} is older than current {current.version_code}]")
        return 1
    apk_dir = f"/data/app/~~{os.urandom(6).hex()}==/{package}-{os.urandom(6).hex()}=="
    apk_host = inv.fs.host(apk_dir + "/base.apk")
    apk_host.parent.mkdir(parents=True, exist_ok=True)
    apk_host.write_bytes(payload)
    device.packages[package] = installed_package(info, apk_dir + "/base.apk")
    device.install_log.append(package)
    inv.print("Success")
    return 0


def installed_package(info: ApkInfo, apk_path: str) -> InstalledPackage:
    # an instrumentation whose target is another package cannot run against this one
    instrumentation = info.instrumentation if info.instrumentation_target in (None, info.package) else None
    return InstalledPackage(package=info.package, version_code=info.version_code, version_name=info.version_name,
                            instrumentation=instrumentation, apk_path=apk_path, installed_at=time.time(),
                            signer_sha256=info.signer_sha256, activity=info.launchable_activity,
                            min_sdk=info.min_sdk, target_sdk=info.target_sdk)


_APK_CACHE: dict[str, ApkInfo] = {}


def apk_info(payload: bytes) -> ApkInfo:
    """read_apk on bytes, remembered by content (the same APK is installed in many tests)."""
    import hashlib

    key = hashlib.sha256(payload).hexdigest()
    if key not in _APK_CACHE:
        with tempfile.TemporaryDirectory(prefix="adb-emu-pm-") as scratch:
            staged = Path(scratch) / "base.apk"
            staged.write_bytes(payload)
            try:
                info = read_apk(staged)
            except ApkError as exc:
                raise ApkError(str(exc).replace(str(staged), "{path}")) from None
        _APK_CACHE[key] = info
    return _APK_CACHE[key]


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
        inv.print(f"    versionCode={record.version_code} minSdk={record.min_sdk} targetSdk={record.target_sdk}")
        inv.print(f"    versionName={record.version_name}")
        inv.print(f"    firstInstallTime={time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(record.installed_at))}")
        return 0
    if service == "thermalservice":
        return _dumpsys_thermal(device, inv)
    if service == "battery":
        inv.print("Current Battery Service state:")
        inv.print("  AC powered: false\n  USB powered: true\n  Wireless powered: false")
        inv.print("  status: 2\n  health: 2\n  present: true\n  level: 85\n  scale: 100")
        inv.print(f"  voltage: 4210\n  temperature: {int(round(device.battery_temp_c * 10))}")
        inv.print("  technology: Li-ion")
        return 0
    inv.error(f"Can't find service: {service}")
    return 0


def _dumpsys_thermal(device, inv: Invocation) -> int:
    inv.print("IsStatusOverride: false")
    inv.print("ThermalEventListeners:")
    inv.print("\tcallbacks: 1")
    inv.print("ThermalStatusListeners:")
    inv.print("\tcallbacks: 1")
    inv.print(f"Thermal Status: {device.thermal_status}")
    inv.print("Cached temperatures:")
    inv.print(f"\tTemperature{{mValue={device.battery_temp_c}, mType=2, mName=battery, mStatus={device.thermal_status}}}")
    inv.print("HAL Ready: true")
    return 0


# ---- am -------------------------------------------------------------------------------------------

def _am(device, inv: Invocation) -> int:
    args = inv.argv[1:]
    if args[:1] == ["force-stop"]:
        package = args[-1]
        device.force_stop(package)
        return 0
    if args[:1] == ["start"]:
        return _am_start(device, inv, args[1:])
    if args[:1] != ["instrument"]:
        inv.error(f"am: unsupported: {' '.join(args[:1])}")
        return 1
    return Instrumentation(device, inv, args[1:]).run()


def _am_start(device, inv: Invocation, args: list[str]) -> int:
    """`am start [-S] [-W] -n PKG/.Activity --es request PATH`: the companion app's BenchActivity runs
    the request in front (bench --foreground) and writes result.json, as the app does; am returns
    once the Activity is started, not when the run ends."""
    import threading

    component, extras, stop_first, index = None, {}, False, 0
    while index < len(args):
        arg = args[index]
        if arg in ("--es", "-e") and index + 2 < len(args):
            extras[args[index + 1]] = args[index + 2]
            index += 3
            continue
        if arg == "-n" and index + 1 < len(args):
            component = args[index + 1]
            index += 2
            continue
        if arg == "-S":
            stop_first = True
        index += 1
    package, _, cls = (component or "").partition("/")
    if cls.startswith("."):
        cls = package + cls
    record = device.packages.get(package)
    inv.print(f"Starting: Intent {{ cmp={component} (has extras) }}")
    if record is None or record.activity != cls:
        inv.error(f"Error type 3\nError: Activity class {{{package}/{cls}}} does not exist.")
        return 1
    if stop_first:
        device.force_stop(package)
    request = extras.get("request")
    if not request:
        return 0  # the screen opens for a person; nothing runs

    class Front(Instrumentation):
        launch = "activity"

        def status(self, code, **values):
            pass  # an Activity has no transcript

    quiet = Invocation(inv.shell, ["am"], lambda data: None, lambda data: None, None, threading.Event())
    front = Front(device, quiet, [])
    threading.Thread(target=front._run_host_runner, args=(request, package), daemon=True,
                     name="emulated-activity").start()
    return 0


class Instrumentation:
    """`am instrument -w -r -e request PATH PKG/CLASS`, as the companion app answers it."""

    launch = "instrumentation"

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
        # As the app: status, error, paths and a summary; the host pulls result.json.
        timing = result.get("timing") if isinstance(result.get("timing"), dict) else {}
        delegate = result.get("delegate") if isinstance(result.get("delegate"), dict) else {}
        samples = timing.get("samples_ns")
        final = {"id": "mobilekit", "protocol_version": 1, "run_id": run_id, "status": result.get("status"),
                 "result_path": result_device_path, "samples": len(samples) if isinstance(samples, list) else 0}
        if delegate.get("applied"):
            final["applied"] = delegate["applied"]
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
            final_dir = fs.host(output_device)
            # The host runner writes into a scratch folder; the files move into place below with
            # result.json last, so a host polling for it (am start) never reads a half-made result.
            request["output_dir"] = str(Path(tempfile.mkdtemp(prefix=".emu-run-", dir=final_dir)))
        except (KeyError, TypeError, OSError) as exc:
            return None, f"bad request: {exc}"
        run_id = str(request.get("run_id", ""))
        self.stage(run_id, "init")
        self.stage(run_id, "run", 0, request.get("runs", {}).get("timed_runs", 1))
        with tempfile.TemporaryDirectory(prefix="adb-emu-run-") as scratch:
            host_request = Path(scratch) / "request.json"
            host_request.write_text(json.dumps(request))
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            process = subprocess.Popen([sys.executable, "-m", "mobilekit.benchmark.host_child", str(host_request)],
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
            stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            # the host runner writes result.json even for failed runs; only "no result" is fatal
        result_host = Path(request["output_dir"]) / "result.json"
        if not result_host.is_file():
            shutil.rmtree(result_host.parent, ignore_errors=True)
            return None, f"runner wrote no result: {stderr.strip()[-300:]}"
        result = json.loads(result_host.read_text())
        result["runner"] = {"kind": "android", "version": device.app_version_name(package),
                            "runtime": "litert", "runtime_version": result["runner"]["runtime_version"],
                            "launch": self.launch}
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
        state = {"status": ["none", "light", "moderate", "severe", "critical", "emergency", "shutdown"][device.thermal_status],
                 "battery_temp_c": device.battery_temp_c}
        result["thermal"] = {"start": state, "end": state}
        result.update(device.faults.result_patch or {})
        scratch_dir = Path(request["output_dir"])
        for produced in scratch_dir.iterdir():
            if produced.name != "result.json":
                os.replace(produced, final_dir / produced.name)
        final = final_dir / "result.json"
        tmp = final_dir / ".result.json.tmp"
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, final)
        shutil.rmtree(scratch_dir, ignore_errors=True)
        return fs.device_path(final), None


def _kill(process: subprocess.Popen):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


__all__ = ["make_test_apk", "make_keystore", "read_apk", "apk_info", "apk_tools_missing", "ApkInfo", "ApkError",
           "install_commands", "PIXEL_7_PROPS", "InstalledPackage"]
