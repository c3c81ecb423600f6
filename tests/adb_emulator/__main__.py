"""Run the emulated phone in its own process (as a real phone is), e.g. for benchmarks:

    python -m adb_emulator --root DIR --key ~/.android/adbkey.pub

Prints `127.0.0.1:PORT` on stdout once it listens; serves until stdin closes or it is killed."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .device import EmulatedDevice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder standing in for the phone's /")
    parser.add_argument("--key", action="append", default=[], help="an adbkey.pub to accept (repeatable)")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    device = EmulatedDevice(args.root, authorized_keys=args.key).start()
    print(device.address, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    finally:
        device.stop()


if __name__ == "__main__":
    main()
