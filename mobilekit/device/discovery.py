"""Which phones are attached, and opening a Transport to one: the adb server when it answers
(`--adb auto`), else adb-shell directly over USB or TCP."""
from __future__ import annotations

import time

from ..errors import DeviceError, UsageError
from .server import AdbServer, ServerTransport, state_error
from .transport import Transport

ADB_CHOICES = ("auto", "server", "direct")
_SETTLING_STATES = ("authorizing", "connecting")


def _check_choice(adb: str) -> None:
    if adb not in ADB_CHOICES:
        raise UsageError(f"--adb must be one of {', '.join(ADB_CHOICES)}, got {adb!r}")


def attached_serials(adb: str = "auto") -> list[str]:
    """Serials of phones ready to use; [] quickly (well under 0.3 s) when no server or phone answers."""
    _check_choice(adb)
    if adb in ("auto", "server"):
        server = AdbServer()
        if server.answers(timeout_s=0.2):
            try:
                return [entry["serial"] for entry in server.devices(timeout_s=1.0) if entry["state"] == "device"]
            except DeviceError:
                return []
        if adb == "server":
            return []
    return usb_serials()


def usb_serials() -> list[str]:
    """Serials of USB devices with an ADB interface (class ff/42/01), without claiming them."""
    try:
        import usb1
    except ImportError:
        return []
    found = []
    try:
        with usb1.USBContext() as context:
            for device in context.getDeviceIterator(skip_on_error=True):
                for setting in device.iterSettings():
                    if (setting.getClass(), setting.getSubClass(), setting.getProtocol()) == (0xFF, 0x42, 0x01):
                        try:
                            found.append(device.getSerialNumber())
                        except usb1.USBError:
                            found.append(f"usb:{device.getBusNumber()}-{device.getDeviceAddress()}")
                        break
    except Exception:  # noqa: BLE001 - no libusb, no permissions: simply no direct USB phones
        return []
    return found


def pick_entry(entries: list[dict], serial: str | None) -> dict:
    """The one device to use, or a clear DeviceError for none / several / a bad state."""
    if serial:
        matches = [entry for entry in entries if entry["serial"] == serial]
        if not matches:
            attached = ", ".join(entry["serial"] for entry in entries) or "none"
            hint = ("run `mobilekit devices`; for a phone on the network use --connect HOST:PORT"
                    if ":" in serial else "run `mobilekit devices` to see attached phones")
            raise DeviceError(f"device {serial} not found (attached: {attached})", serial=serial, hint=hint)
        entry = matches[0]
    else:
        if not entries:
            raise DeviceError("no Android device attached",
                              hint="connect a phone with USB debugging on (or use --connect HOST:PORT), "
                                   "then check `mobilekit devices`")
        if len(entries) > 1:
            listed = ", ".join(f"{e['serial']} ({e['state']})" for e in entries)
            raise DeviceError(f"several devices attached: {listed}", hint="choose one with --serial SERIAL")
        entry = entries[0]
    if entry["state"] != "device":
        raise state_error(f"device {entry['state']}", entry["serial"])
    return entry


def _normal_address(address: str) -> str:
    return address if ":" in address else f"{address}:5555"


def _connect_through_server(server: AdbServer, connect: str, serial: str, wait_s: float) -> list[dict]:
    """`adb connect`, then wait until the server lists the phone ready (or in a state to report).

    A TCP phone whose link dropped stays "offline" (or half gone) in the server until it is
    reconnected: do what a person would, `adb disconnect` then `adb connect` again."""
    server.connect_device(connect)
    deadline = time.monotonic() + max(wait_s, 2.0)
    while True:
        entries = server.devices()
        state = next((e["state"] for e in entries if e["serial"] == serial), None)
        if state in ("device", "unauthorized") or time.monotonic() > deadline:
            return entries
        if state in (None, "offline"):
            server.disconnect_device(serial)
            server.connect_device(connect)
        time.sleep(0.1)


def default_auth_timeout_s() -> float:
    """How long to wait for a person to accept the "Allow USB debugging?" prompt."""
    import os

    try:
        return float(os.environ.get("MOBILEKIT_ADB_AUTH_TIMEOUT_S", "20"))
    except ValueError:
        return 20.0


def open_transport(serial: str | None = None, *, adb: str = "auto", connect: str | None = None,
                   auth_timeout_s: float | None = None) -> Transport:
    """A Transport to one phone, chosen as `--adb/--serial/--connect` describe."""
    _check_choice(adb)
    if connect:
        from .direct import split_address

        split_address(connect)  # a bad port is a usage error, not "nothing listens"
    if auth_timeout_s is None:
        auth_timeout_s = default_auth_timeout_s()
    server = AdbServer()
    if adb == "server" or (adb == "auto" and server.answers()):
        if connect:
            serial = serial or _normal_address(connect)
            entries = _connect_through_server(server, connect, serial, auth_timeout_s)
        else:
            entries = server.devices()
            deadline = time.monotonic() + 2.0
            while any(e["state"] in _SETTLING_STATES for e in entries if not serial or e["serial"] == serial) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
                entries = server.devices()
        entry = pick_entry(entries, serial)
        return ServerTransport(entry["serial"], server)
    from .direct import DirectTransport

    address = connect or (serial if serial and ":" in serial else None)
    if address:
        return DirectTransport(address, auth_timeout_s=auth_timeout_s)
    entry = pick_entry([{"serial": found, "state": "device"} for found in usb_serials()], serial)
    return DirectTransport(usb_serial=entry["serial"], auth_timeout_s=auth_timeout_s)


def list_devices(adb: str = "auto", connect: str | None = None, *, package: str | None = None,
                 auth_timeout_s: float | None = None) -> list:
    """Every phone the chosen way of reaching phones sees, with facts for the ready ones."""
    from .device import Device, DeviceInfo

    _check_choice(adb)
    if connect:
        from .direct import split_address

        split_address(connect)
    if auth_timeout_s is None:
        auth_timeout_s = default_auth_timeout_s()
    server = AdbServer()
    rows = []
    if adb == "server" or (adb == "auto" and server.answers()):
        if connect:
            server.connect_device(connect)
            time.sleep(0.2)  # let the server finish the handshake before listing
        for entry in server.devices():
            if entry["state"] != "device":
                rows.append(DeviceInfo(serial=entry["serial"], state=entry["state"],
                                       model=entry.get("model", "").replace("_", " ") or None,
                                       transport="server"))
                continue
            try:
                rows.append(Device(ServerTransport(entry["serial"], server)).info(package))
            except DeviceError as exc:
                rows.append(DeviceInfo(serial=entry["serial"], state=f"error: {exc.message}", transport="server"))
        return rows
    from .direct import DirectTransport

    targets = [("address", connect)] if connect else [("usb", serial) for serial in usb_serials()]
    for kind, name in targets:
        try:
            transport = (DirectTransport(name, auth_timeout_s=auth_timeout_s) if kind == "address"
                         else DirectTransport(usb_serial=name, auth_timeout_s=auth_timeout_s))
        except DeviceError as exc:
            state = "unauthorized" if "unauthorized" in exc.message else f"error: {exc.message}"
            rows.append(DeviceInfo(serial=name, state=state, transport="direct"))
            continue
        with transport:
            rows.append(Device(transport).info(package))
    return rows
