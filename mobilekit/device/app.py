"""The companion app on a phone: find its APK (given, bundled with this package, built by Android
Studio, or built with the Gradle wrapper), build the bundled one from android_app/, install it,
check its protocol version, reinstall it when outdated."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeviceError
from .device import Device
from .transport import Transport
from .._lifetime import kill_group

APP_PACKAGE = "dev.mobilekit.bench"
APP_INSTRUMENTATION = "dev.mobilekit.bench.BenchInstrumentation"
PROTOCOL_VERSION = 1
# versionCode = PROTOCOL_VERSION * 1000 + app revision: the protocol an installed app speaks can be
# read from `dumpsys package` without running it.
APP_VERSION_CODE = PROTOCOL_VERSION * 1000 + 2  # revision 2: telemetry and sustained runs (v2 requests)
APK_ENV = "MOBILEKIT_APK"
REPO_ANDROID_APP = Path(__file__).resolve().parents[2] / "android_app"
# Built by android_app/scripts/build_apk.py (scripts/setup.sh, `make apk`, `mobilekit app build`);
# package data, so a wheel carries it.
BUNDLED_APK = Path(__file__).resolve().parent / "companion" / "mobilekit-bench.apk"
BUILD_SCRIPT = "scripts/build_apk.py"
BUILD_TIMEOUT_S = 1800.0  # a first build fetches android-all (about 190 MB) from Maven Central
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
    """The companion APK, in this order: ``apk`` (--apk); $MOBILEKIT_APK; the APK bundled with
    this package; Android Studio's debug output of android_app/; a build with android_app/gradlew
    when an Android SDK is configured. The error names each one tried and why it did not serve."""
    tried = []
    if apk is not None:
        path = Path(apk).expanduser()
        if not path.is_file():
            raise DeviceError(f"APK not found: {path} (given with --apk)", hint="give the path of the companion app's .apk")
        return path
    tried.append("--apk (not given)")
    env = os.environ.get(APK_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DeviceError(f"APK not found: {path} (from ${APK_ENV})",
                              hint=f"fix or unset {APK_ENV}, or pass --apk PATH")
        return path
    tried.append(f"${APK_ENV} (not set)")
    bundled = Path(BUNDLED_APK)
    if bundled.is_file():
        return bundled
    tried.append(f"the bundled APK ({bundled}: not built)")
    project = Path(project_dir) if project_dir else REPO_ANDROID_APP
    built = _newest(project.glob(STUDIO_APK_GLOB))
    if built is not None:
        return built
    gradlew = project / "gradlew"
    sdk = os.environ.get("ANDROID_HOME") or os.environ.get("ANDROID_SDK_ROOT")
    has_local_properties = (project / "local.properties").is_file()
    if not project.is_dir():
        tried.append("a Gradle build of android_app/ (no android_app/ project here)")
    elif not gradlew.is_file():
        tried.append(f"a Gradle build of android_app/ (no {project / STUDIO_APK_GLOB} and no gradlew)")
    elif not (sdk or has_local_properties):
        tried.append(f"a Gradle build of android_app/ (no {project / STUDIO_APK_GLOB}, and no Android SDK is "
                     f"configured: ANDROID_HOME is unset and {project / 'local.properties'} is missing)")
    elif not build:
        tried.append(f"a Gradle build of android_app/ ({project / STUDIO_APK_GLOB} is missing)")
    else:
        return _gradle_build(project, gradlew)
    can_build = (project / BUILD_SCRIPT).is_file()
    raise DeviceError("the companion app's APK was not found; tried " + "; ".join(tried),
                      hint=("run `mobilekit app build` (or `make apk`) to build the bundled APK, " if can_build else "")
                      + "pass --apk PATH, or set MOBILEKIT_APK")


def _gradle_build(project: Path, gradlew: Path) -> Path:
    returncode, stdout, stderr = _run_gradle([str(gradlew), ":app:assembleDebug", "--quiet"], project)
    if returncode != 0:
        tail = " | ".join((stderr or stdout).strip().splitlines()[-5:])
        raise DeviceError(f"building the companion app failed (gradlew exit {returncode}): {tail}",
                          hint="open android_app/ in Android Studio to see the full build output")
    built = _newest(project.glob(STUDIO_APK_GLOB))
    if built is None:
        raise DeviceError(f"the Gradle build finished but no APK appeared under {project / STUDIO_APK_GLOB}")
    return built


def build_bundled_apk(*, force: bool = False, project_dir: Path | None = None, echo=None) -> Path:
    """Rebuild the bundled APK from android_app/ with its build script (Maven Central, Debian's
    aapt/apksigner; no Gradle). Progress goes to stderr; skipped when no input changed."""
    project = Path(project_dir) if project_dir else REPO_ANDROID_APP
    script = project / BUILD_SCRIPT
    if not script.is_file():
        raise DeviceError(f"cannot build the companion app: {script} is missing (an installed mobilekit carries "
                          "the built APK but not the app's sources)",
                          hint="build from a clone of the mobilekit repository, or pass --apk PATH")
    argv = [sys.executable, str(script), "--output", str(BUNDLED_APK)] + (["--force"] if force else [])
    try:
        process = subprocess.Popen(argv, cwd=project.parent, start_new_session=True)
    except OSError as exc:
        raise DeviceError(f"could not run {script}: {exc}") from None
    try:
        returncode = process.wait(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise DeviceError(f"building the companion app did not finish within {BUILD_TIMEOUT_S:g} s; "
                          "the build was stopped") from None
    except BaseException:
        kill_group(process)
        raise
    if returncode == 3:
        raise DeviceError("cannot build the companion app: a build tool is missing (named above)",
                          hint="run `bash scripts/setup.sh --apk` (as root it installs them)")
    if returncode != 0 or not Path(BUNDLED_APK).is_file():
        raise DeviceError(f"building the companion app failed (exit {returncode}); the build's own message "
                          "is above", hint=f"rerun `python3 {script}` to see it again")
    return Path(BUNDLED_APK)


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
        kill_group(process)
        raise DeviceError(f"building the companion app did not finish within {GRADLE_TIMEOUT_S:g} s; "
                          "the build was stopped",
                          hint="build it once in Android Studio, or pass --apk PATH") from None
    except BaseException:
        kill_group(process)
        raise
    return process.returncode, stdout, stderr



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
                          serial=transport.serial, hint="rebuild it with `mobilekit app build`, or pass --apk")
    if after[0] < APP_VERSION_CODE:
        raise DeviceError(f"the APK {path.name} is older (versionCode {after[0]}) than this mobilekit "
                          f"needs ({APP_VERSION_CODE})", serial=transport.serial,
                          hint="rebuild it with `mobilekit app build`, or pass --apk")
    return AppStatus(transport.serial, APP_PACKAGE, "reinstalled" if before else "installed", after[0],
                     after[1], before[0] if before else None, str(path))


__all__ = ["APP_PACKAGE", "APP_INSTRUMENTATION", "PROTOCOL_VERSION", "APP_VERSION_CODE", "AppStatus",
           "BUNDLED_APK", "find_apk", "build_bundled_apk", "ensure_app", "component"]
