"""The companion app on a phone: find its APK (given, built by Android Studio, or built with the
Gradle wrapper), install it, check its protocol version, reinstall it when outdated."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeviceError
from .device import Device
from .transport import Transport

APP_PACKAGE = "dev.mobilekit.bench"
APP_INSTRUMENTATION = "dev.mobilekit.bench.BenchInstrumentation"
PROTOCOL_VERSION = 1
# versionCode = PROTOCOL_VERSION * 1000 + app revision: the protocol an installed app speaks can be
# read from `dumpsys package` without running it.
APP_VERSION_CODE = PROTOCOL_VERSION * 1000 + 1
APK_ENV = "MOBILEKIT_APK"
REPO_ANDROID_APP = Path(__file__).resolve().parents[2] / "android_app"
STUDIO_APK_GLOB = "app/build/outputs/apk/debug/*.apk"
GRADLE_TIMEOUT_S = 1800.0  # a first build downloads Gradle and the Android plugin


def component() -> str:
    return f"{APP_PACKAGE}/{APP_INSTRUMENTATION}"


def protocol_of(version_code: int) -> int:
    return version_code // 1000


@dataclass
class AppStatus:
    serial: str
    package: str
    action: str                    # "kept", "installed", "reinstalled"
    version_code: int
    version_name: str
    previous_version_code: int | None
    apk: str | None


def find_apk(apk=None, *, project_dir: Path | None = None, build: bool = True) -> Path:
    """The companion APK: ``apk``; else $MOBILEKIT_APK; else Android Studio's debug output; else
    built with the project's Gradle wrapper when an Android SDK is configured."""
    if apk is None and os.environ.get(APK_ENV):
        apk = os.environ[APK_ENV]
    if apk is not None:
        path = Path(apk).expanduser()
        if not path.is_file():
            raise DeviceError(f"APK not found: {path}", hint="give the path of the companion app's .apk")
        return path
    project = Path(project_dir) if project_dir else REPO_ANDROID_APP
    built = _newest(project.glob(STUDIO_APK_GLOB))
    if built is not None:
        return built
    gradlew = project / "gradlew"
    sdk = os.environ.get("ANDROID_HOME") or os.environ.get("ANDROID_SDK_ROOT")
    has_local_properties = (project / "local.properties").is_file()
    if not project.is_dir() or not gradlew.is_file():
        raise DeviceError("the companion app's APK was not found and there is no android_app/ project "
                          "to build it from", hint="pass --apk PATH (or set MOBILEKIT_APK)")
    if not (sdk or has_local_properties):
        raise DeviceError(f"the companion app is not built ({project / STUDIO_APK_GLOB} is missing) and "
                          "no Android SDK is configured to build it",
                          hint=f"build it in Android Studio, or set ANDROID_HOME (or write sdk.dir=... "
                               f"in {project / 'local.properties'}), or pass --apk PATH")
    if not build:
        raise DeviceError(f"the companion app is not built: {project / STUDIO_APK_GLOB} is missing")
    returncode, stdout, stderr = _run_gradle([str(gradlew), ":app:assembleDebug", "--quiet"], project)
    if returncode != 0:
        tail = " | ".join((stderr or stdout).strip().splitlines()[-5:])
        raise DeviceError(f"building the companion app failed (gradlew exit {returncode}): {tail}",
                          hint="open android_app/ in Android Studio to see the full build output")
    built = _newest(project.glob(STUDIO_APK_GLOB))
    if built is None:
        raise DeviceError(f"the Gradle build finished but no APK appeared under {project / STUDIO_APK_GLOB}")
    return built


def _run_gradle(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the Gradle wrapper in a session of its own; on timeout or Ctrl-C end the whole group.

    subprocess.run(timeout=) kills only gradlew itself: the JVM and workers it started would go on
    building (and holding the project lock) after mobilekit gave up."""
    try:
        process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    except OSError as exc:
        raise DeviceError(f"could not run {argv[0]}: {exc}") from None
    try:
        stdout, stderr = process.communicate(timeout=GRADLE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise DeviceError(f"building the companion app did not finish within {GRADLE_TIMEOUT_S:g} s; "
                          "the build was stopped",
                          hint="build it once in Android Studio, or pass --apk PATH") from None
    except BaseException:
        _kill_group(process)
        raise
    return process.returncode, stdout, stderr


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.communicate()


def _newest(paths) -> Path | None:
    paths = [path for path in paths if path.is_file()]
    return max(paths, key=lambda path: path.stat().st_mtime) if paths else None


def app_is_current(version: tuple[int, str] | None) -> bool:
    return (version is not None and protocol_of(version[0]) == PROTOCOL_VERSION
            and version[0] >= APP_VERSION_CODE)


def ensure_app(transport: Transport, apk=None, *, force: bool = False) -> AppStatus:
    """Install the companion app when it is missing, outdated or speaks another protocol."""
    device = Device(transport)
    before = device.app_version(APP_PACKAGE)
    if not force and app_is_current(before):
        return AppStatus(transport.serial, APP_PACKAGE, "kept", before[0], before[1], before[0], None)
    path = find_apk(apk)
    transport.install(path)
    after = device.app_version(APP_PACKAGE)
    if after is None:
        raise DeviceError(f"{path.name} installed but {APP_PACKAGE} is not on {transport.serial}",
                          serial=transport.serial, hint="is this the mobilekit companion APK?")
    if protocol_of(after[0]) != PROTOCOL_VERSION:
        raise DeviceError(f"the app in {path.name} speaks protocol {protocol_of(after[0])} (versionCode "
                          f"{after[0]}), this mobilekit needs protocol {PROTOCOL_VERSION}",
                          serial=transport.serial, hint="rebuild android_app/ from this checkout")
    if after[0] < APP_VERSION_CODE:
        raise DeviceError(f"the APK {path.name} is older (versionCode {after[0]}) than this mobilekit "
                          f"needs ({APP_VERSION_CODE})", serial=transport.serial,
                          hint="rebuild android_app/ from this checkout")
    return AppStatus(transport.serial, APP_PACKAGE, "reinstalled" if before else "installed", after[0],
                     after[1], before[0] if before else None, str(path))


__all__ = ["APP_PACKAGE", "APP_INSTRUMENTATION", "PROTOCOL_VERSION", "APP_VERSION_CODE", "AppStatus",
           "find_apk", "ensure_app", "component"]
