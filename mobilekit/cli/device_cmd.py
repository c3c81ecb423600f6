"""`mobilekit devices` and `mobilekit app ...`: thin commands over mobilekit.device."""
from __future__ import annotations

import functools
import json

import click

from .._text import text_table
from ._common import run_command


def device_options(fn):
    """--adb, --serial, --connect: how to reach the phone."""
    @click.option("--adb", type=click.Choice(["auto", "server", "direct"]), default="auto", show_default=True,
                  help="auto: the adb server when one answers, else adb-shell directly (USB or TCP).")
    @click.option("--connect", metavar="HOST:PORT", help="Connect to a phone over TCP first (adb connect).")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@click.command("devices", context_settings={"help_option_names": ["-h", "--help"]})
@device_options
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
@run_command
def devices_command(adb, connect, as_json):
    """List attached Android phones: serial, state, maker, model, SoC, Android, ABI and the
    installed companion-app version.

    \b
    Example:
      mobilekit devices
      mobilekit devices --json
      mobilekit devices --connect 192.168.1.20:5555
    """
    from ..device.app import APP_PACKAGE, app_is_current
    from ..device.discovery import list_devices
    from ..records import to_dict

    rows = list_devices(adb=adb, connect=connect, package=APP_PACKAGE)
    if as_json:
        click.echo(json.dumps([to_dict(row) for row in rows], indent=2))
    else:
        _print_devices(rows, app_is_current)
    if connect:
        # A script that asked for this phone must not carry on as if it were there.
        reached = [row for row in rows if row.serial == connect]
        if not reached or reached[0].state != "device":
            from ..errors import DeviceError

            state = reached[0].state.removeprefix("error: ") if reached else "not listed"
            raise DeviceError(f"could not reach {connect}: {state}", serial=connect,
                              hint="check the phone's IP and port and that wireless debugging is on")


def _print_devices(rows, app_is_current):
    if not rows:
        click.echo("No Android device attached. Connect a phone with USB debugging on "
                   "(or use --connect HOST:PORT).")
        return
    header = ("SERIAL", "STATE", "MAKER", "MODEL", "SOC", "ANDROID", "ABI", "APP")
    table = [header]
    for row in rows:
        if row.app_version_code is None:
            app = "-" if row.state == "device" else ""
        else:
            version = (row.app_version_code, row.app_version_name or "")
            app = f"{row.app_version_name} ({row.app_version_code})" + ("" if app_is_current(version) else " outdated")
        android = f"{row.android_release} (SDK {row.sdk_level})" if row.android_release else ""
        table.append((row.serial, row.state, row.manufacturer or "", row.model or "", row.soc or "", android,
                      row.abi or "", app))
    click.echo(text_table(table[0], table[1:], rule=False))


@click.group("app", context_settings={"help_option_names": ["-h", "--help"]})
def app_group():
    """Install, check or build the companion Android app that runs benchmarks on the phone.

    \b
    Example:
      mobilekit app install
      mobilekit app install --apk android_app/app/build/outputs/apk/debug/app-debug.apk --serial R58M123
      mobilekit app check
    """


@app_group.command("install")
@click.option("--apk", type=click.Path(dir_okay=False), default=None,
              help="The APK to install. Default: $MOBILEKIT_APK, else the APK bundled with mobilekit, else "
                   "Android Studio's build output (android_app/app/build/outputs/apk/debug/), else built with "
                   "android_app/gradlew.")
@click.option("--serial", default=None, metavar="SERIAL", help="The phone (needed when several are attached).")
@device_options
@click.option("--force", is_flag=True, help="Reinstall even when the installed app is current.")
@run_command
def install_command(apk, serial, adb, connect, force):
    """Install the companion app when it is missing or outdated (or always, with --force).

    \b
    Example:
      mobilekit app install
      mobilekit app install --apk app-debug.apk --serial R58M123 --force
    """
    from ..device.app import ensure_app
    from ..device.discovery import open_transport

    with open_transport(serial, adb=adb, connect=connect) as transport:
        status = ensure_app(transport, apk, force=force)
    if status.action == "kept":
        click.echo(f"{status.serial}: {status.package} {status.version_name} (versionCode "
                   f"{status.version_code}) is installed and current; nothing to do (use --force to reinstall)")
    else:
        click.echo(f"{status.serial}: {status.action} {status.package} {status.version_name} (versionCode "
                   f"{status.version_code}) from {status.apk}")


@app_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild even when no input changed.")
@run_command
def build_command(force):
    """Rebuild the bundled companion APK from android_app/ (Maven Central and Debian's aapt/apksigner;
    no Gradle, no Android SDK), verify it, and print where it is.

    \b
    Example:
      mobilekit app build
      mobilekit app build --force
    """
    from ..device.app import build_bundled_apk

    click.echo(str(build_bundled_apk(force=force)))


@app_group.command("check")
@click.option("--serial", default=None, metavar="SERIAL", help="The phone (needed when several are attached).")
@device_options
@run_command
def check_command(serial, adb, connect):
    """Say whether the companion app is installed and speaks this mobilekit's protocol (exit 1 if not).

    \b
    Example:
      mobilekit app check --serial R58M123
    """
    from ..device.app import (APP_PACKAGE, APP_VERSION_CODE, PROTOCOL_VERSION, app_is_current,
                              protocol_of)
    from ..device.device import Device
    from ..device.discovery import open_transport
    from ..errors import DeviceError

    with open_transport(serial, adb=adb, connect=connect) as transport:
        version = Device(transport).app_version(APP_PACKAGE)
    if version is None:
        raise DeviceError(f"{APP_PACKAGE} is not installed on {transport.serial}",
                          hint="install it with `mobilekit app install`")
    if not app_is_current(version):
        raise DeviceError(f"{APP_PACKAGE} on {transport.serial} is outdated: versionCode {version[0]} "
                          f"(protocol {protocol_of(version[0])}); this mobilekit needs {APP_VERSION_CODE} "
                          f"(protocol {PROTOCOL_VERSION})", hint="run `mobilekit app install`")
    click.echo(f"{transport.serial}: {APP_PACKAGE} {version[1]} (versionCode {version[0]}) is current")
