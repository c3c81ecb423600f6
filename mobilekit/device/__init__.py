"""Phones over ADB: one Transport interface (adb server or adb-shell direct), discovery, device
facts, `am instrument` transcripts and the companion app."""
from .device import Device, DeviceInfo
from .discovery import ADB_CHOICES, attached_serials, open_transport
from .transport import DeviceTimeoutError, ShellResult, Transport, quote_command

__all__ = ["Device", "DeviceInfo", "ADB_CHOICES", "attached_serials", "open_transport",
           "DeviceTimeoutError", "ShellResult", "Transport", "quote_command"]
