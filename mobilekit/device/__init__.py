"""Phones over ADB: one Transport interface (adb server or adb-shell direct), discovery, device
facts, `am instrument` transcripts and the companion app."""
from .device import Device, DeviceInfo
from .direct import DirectTransport
from .discovery import ADB_CHOICES, attached_serials, list_devices, open_transport
from .server import AdbServer, ServerTransport
from .transport import DeviceTimeoutError, ShellResult, Transport, quote_command

__all__ = ["Device", "DeviceInfo", "ADB_CHOICES", "attached_serials", "list_devices", "open_transport",
           "DirectTransport", "ServerTransport", "AdbServer", "DeviceTimeoutError", "ShellResult", "Transport",
           "quote_command"]
