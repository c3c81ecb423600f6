"""A phone's facts (maker, model, SoC, Android, ABI, companion app) and the small shell queries
the bench needs (thermal state, remote sha256), over any Transport."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .._text import replace_control
from .transport import Transport

THERMAL_NAMES = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")
_PROP_LINE = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")


@dataclass
class DeviceInfo:
    """One row of `mobilekit devices`."""
    serial: str
    state: str
    manufacturer: str | None = None
    model: str | None = None
    soc: str | None = None
    android_release: str | None = None
    sdk_level: int | None = None
    abi: str | None = None
    app_version_name: str | None = None
    app_version_code: int | None = None
    transport: str | None = None


def parse_getprop(text: str) -> dict[str, str]:
    props: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        match = _PROP_LINE.match(line.rstrip("\r"))
        if match:
            last = match.group(1)
            props[last] = match.group(2)
        elif last is not None and not line.startswith("["):
            props[last] += "\n" + line  # a value running over several lines
    return props


def parse_package_version(dumpsys: str) -> tuple[int, str] | None:
    code = re.search(r"versionCode=(\d+)", dumpsys)
    if not code:
        return None
    name = re.search(r"versionName=(\S*)", dumpsys)
    return int(code.group(1)), name.group(1) if name else ""


def parse_thermal(thermalservice: str, battery: str) -> dict:
    status = None
    match = re.search(r"Thermal Status:\s*(\d+)", thermalservice)
    if match:
        index = int(match.group(1))
        status = THERMAL_NAMES[index] if index < len(THERMAL_NAMES) else "unknown"
    temperature = None
    match = re.search(r"^\s*temperature:\s*(-?\d+)", battery, re.MULTILINE)
    if match:
        temperature = int(match.group(1)) / 10.0  # tenths of a degree Celsius
    return {"status": status, "battery_temp_c": temperature}


def _text(value: str | None) -> str | None:
    """A property as one printable line: the table, bench results and reports show these, and a
    phone's properties are whatever its maker (or owner) set, escape sequences included."""
    return replace_control(value) if value else None


class Device:
    def __init__(self, transport: Transport):
        self.transport = transport
        self.serial = transport.serial
        self._props: dict[str, str] | None = None

    def props(self) -> dict[str, str]:
        if self._props is None:
            self._props = parse_getprop(self.transport.check(["getprop"]).stdout)
        return self._props

    def app_version(self, package: str) -> tuple[int, str] | None:
        result = self.transport.shell(["dumpsys", "package", package])
        if f"Package [{package}]" not in result.stdout:
            return None
        return parse_package_version(result.stdout)

    def info(self, package: str | None = None) -> DeviceInfo:
        props = self.props()
        sdk = props.get("ro.build.version.sdk", "")
        version = self.app_version(package) if package else None
        return DeviceInfo(
            serial=self.serial, state="device",
            manufacturer=_text(props.get("ro.product.manufacturer")),
            model=_text(props.get("ro.product.model")),
            soc=_text(props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware")),
            android_release=_text(props.get("ro.build.version.release")),
            # str.isdigit() also passes "²", which int() refuses: a phone's text must not crash us.
            sdk_level=int(sdk) if re.fullmatch(r"[0-9]{1,4}", sdk) else None,
            abi=_text(props.get("ro.product.cpu.abi")),
            app_version_name=_text(version[1]) if version else None,
            app_version_code=version[0] if version else None,
            transport=self.transport.kind)

    def bench_facts(self) -> dict:
        """The result schema's device block, from properties (cores from the CPU count)."""
        info = self.info()
        cores = None
        result = self.transport.shell(["cat", "/sys/devices/system/cpu/possible"])
        match = re.fullmatch(r"\s*0-(\d+)\s*", result.stdout) if result.ok else None
        if match:
            cores = int(match.group(1)) + 1
        return {"serial": self.serial, "manufacturer": info.manufacturer, "model": info.model,
                "soc": info.soc, "os": f"Android {info.android_release}" if info.android_release else None,
                "sdk_level": info.sdk_level, "abi": info.abi, "cores": cores}

    def thermal(self) -> dict:
        thermal = self.transport.shell(["dumpsys", "thermalservice"])
        battery = self.transport.shell(["dumpsys", "battery"])
        return parse_thermal(thermal.stdout, battery.stdout)

    def sha256(self, remote: str) -> str | None:
        """The sha256 of a file on the phone; None when it is not there. A phone without
        ``sha256sum`` (older toybox builds) gets the file pulled back and hashed on the host:
        slower, still exact, and never "arrived damaged" because a tool is missing."""
        result = self.transport.shell(["sha256sum", remote])
        if not result.ok:
            return self._pulled_sha256(remote) if _command_missing(result, "sha256sum") else None
        # sha256sum escapes names with a backslash or newline by prefixing the line with "\\"
        fields = result.stdout.split()
        digest = fields[0].lstrip("\\") if fields else ""
        return digest if re.fullmatch(r"[0-9a-f]{64}", digest) else None

    def _pulled_sha256(self, remote: str) -> str | None:
        import tempfile
        from pathlib import Path

        from .._io import sha256_file
        from ..errors import DeviceError

        with tempfile.TemporaryDirectory(prefix="mobilekit-sha-") as folder:
            local = Path(folder) / "copy"
            try:
                self.transport.pull(remote, local)
            except DeviceError:  # not there (or not readable): the caller pushes it
                return None
            return sha256_file(local) if local.is_file() else None


def _command_missing(result, name: str) -> bool:
    """Whether ``sh`` said the command does not exist (not that it failed on its argument)."""
    text = result.output
    return result.returncode == 127 or bool(re.search(
        rf"{re.escape(name)}: (inaccessible or )?not found|applet not found", text))
