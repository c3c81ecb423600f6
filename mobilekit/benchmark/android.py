"""Benchmarking on phones: AndroidRunner pushes the model and inputs (skipping files whose sha256
is already there), runs the companion app's instrumentation, and brings result.json and outputs back."""
from __future__ import annotations

import dataclasses
import json
import math
import posixpath
import re
from pathlib import Path
from typing import Callable

from .._io import sha256_file, write_json_atomic
from .._text import one_line, replace_control
from .._progress import progress
from ..errors import BenchError, DeviceError, ProtocolError
from ..device import app as companion
from ..device.device import Device
from ..device.discovery import attached_serials, open_transport
from ..device.instrument import InstrumentParser, StatusBundle
from ..device.transport import DeviceTimeoutError, Transport
from ..results import protocol
from .host_parent import Runner

# The app's own external files folder: shell may write it, the app reads it without permissions.
DEVICE_ROOT = f"/sdcard/Android/data/{companion.APP_PACKAGE}/files/mobilekit"
_SAFE_OUTPUT = re.compile(r"^outputs(_\d+)?\.npy$")


class AndroidRunner(Runner):
    kind = "android"

    def __init__(self, transport: Transport, *, apk=None, device_root: str = DEVICE_ROOT):
        self.transport = transport
        self.target = transport.serial
        self.apk = apk
        self.device_root = device_root
        self._facts: dict | None = None
        self._app_checked = False

    def facts(self) -> dict:
        if self._facts is None:
            try:
                self._facts = Device(self.transport).bench_facts()
            except DeviceError:
                return {"serial": self.target}
        return dict(self._facts)

    # -- one run --------------------------------------------------------------------------------------
    def run(self, request: protocol.BenchRequest | dict, run_dir: Path, *, timeout_s: float,
            on_status: Callable[[str], None] | None = None) -> Path:
        self.run_result(request, run_dir, timeout_s=timeout_s, on_status=on_status)
        return Path(run_dir) / "result.json"

    def run_result(self, request: protocol.BenchRequest | dict, run_dir: Path, *, timeout_s: float,
                   on_status: Callable[[str], None] | None = None) -> protocol.BenchResult:
        say = on_status or (lambda message: None)
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        result_path = run_dir / "result.json"
        if result_path.exists():
            result_path.unlink()  # a stale result must never pass for this run's
        # A lost link fails this run only: the server transport opens a new stream per command and
        # the direct one reconnects on next use, so later runs go on and finished ones are kept.
        return self._run(protocol.as_request(request), run_dir, timeout_s, say)

    def _run(self, request: protocol.BenchRequest, run_dir: Path, timeout_s: float,
             say) -> protocol.BenchResult:
        transport = self.transport
        device = Device(transport)
        serial = self.target
        if not self._app_checked:
            status = companion.ensure_app(transport, self.apk)
            if status.action != "kept":
                say(f"{serial}: companion app {status.action} (versionCode {status.version_code})")
            self._app_checked = True

        run_id = request.run_id
        if run_id in (".", "..") or "/" in str(run_id):
            # The schema's run_id characters allow "..": as a folder name it would point the
            # `rm -rf` below at the models and inputs already on the phone.
            raise BenchError(f"run_id {run_id!r} cannot name a run folder", hint="use letters, digits, . _ -")
        remote_run = posixpath.join(self.device_root, "runs", run_id)
        model_remote = self._ensure_file(Path(request.model.path), "models", request.model.sha256, say)
        inputs = request.inputs
        if inputs.kind == "npy":
            inputs = dataclasses.replace(inputs, files=[self._ensure_file(Path(f), "inputs", None, say)
                                                        for f in inputs.files or []])
        remote_request = dataclasses.replace(request, model=dataclasses.replace(request.model, path=model_remote),
                                             inputs=inputs, output_dir=remote_run).to_dict()
        protocol.validate("request", remote_request, where="device request")

        transport.check(["rm", "-rf", remote_run])
        transport.check(["mkdir", "-p", remote_run])
        local_request = run_dir / "request.json"
        write_json_atomic(local_request, remote_request)
        remote_request_path = posixpath.join(remote_run, "request.json")
        transport.push(local_request, remote_request_path)

        thermal_before = device.thermal()
        say(f"{serial}: running {run_id} (thermal {thermal_before['status']}, battery "
            f"{thermal_before['battery_temp_c']} C)")

        def status_line(bundle: StatusBundle):
            values = bundle.values
            text = ", ".join(f"{key}={value}" for key, value in values.items() if key not in ("id", "result"))
            say(f"{serial}: {one_line(text)}")

        parser = InstrumentParser(status_line)
        command = ["am", "instrument", "-w", "-r", "-e", "request", remote_request_path, companion.component()]
        try:
            transport.shell_stream(command, parser.feed, timeout_s=timeout_s)
        except DeviceTimeoutError:
            self._stop_app()
            raise BenchError(f"run {run_id} on {serial} did not finish within {timeout_s:g} s; the app was "
                             "stopped", hint="raise --timeout, or lower --runs/--max-secs") from None
        except KeyboardInterrupt:
            # The instrumentation outlives the `am` process on a phone: stop the app too.
            self._stop_app()
            raise
        except DeviceError as exc:
            raise DeviceError(f"{serial}: connection lost during run {run_id}: {exc.message}",
                              serial=serial, hint="reconnect the phone and rerun; finished runs are kept") from None
        outcome = parser.finish()
        problem = outcome.error_message()
        if problem is not None:
            if outcome.failed is not None:
                # the app is not (or no longer) there: check again before the next run
                self._app_checked = False
            raise BenchError(f"run {run_id} on {serial}: {one_line(problem)}")

        spoken = outcome.result.get("protocol_version")
        if spoken is not None and spoken.strip() != str(companion.PROTOCOL_VERSION):
            self._app_checked = False
            raise BenchError(f"the app on {serial} speaks protocol {one_line(spoken.strip())}; this "
                             f"mobilekit speaks {companion.PROTOCOL_VERSION}",
                             hint="run `mobilekit app install --force`")
        result = self._read_result(outcome.result, remote_run)
        # Everything below reads what the phone sent: nothing of it is used before its shape is known.
        if not isinstance(result, dict):
            raise BenchError(f"the result of {run_id} from {serial} is not a JSON object",
                             hint="is the companion app from this checkout? `mobilekit app install --force`")
        if result.get("run_id") != run_id:
            raise BenchError(f"{serial} answered run {run_id} with the result of {result.get('run_id')!r}",
                             hint="rerun; a stale result on the phone must not pass for this run")
        if isinstance(result.get("device"), dict) and not result["device"].get("serial"):
            result["device"]["serial"] = serial  # the app cannot know the serial adb gives it
        thermal_after = device.thermal()
        if result.get("thermal") is None:
            result["thermal"] = {}
        thermal = result["thermal"]
        # The app's own readings win; the shell's fill what it could not read.
        for slot, reading in (("start", thermal_before), ("end", thermal_after)):
            if not isinstance(thermal, dict):
                break  # validation below names what is wrong
            current = thermal.get(slot) or {}
            if isinstance(current, dict):
                thermal[slot] = {key: current.get(key) if current.get(key) is not None else reading.get(key)
                                 for key in ("status", "battery_temp_c")}
        protocol.validate("result", result, where=f"result of {run_id} from {serial}")
        # Error messages and device strings are printed by bench and compare later, from this file.
        result = _printable_strings(result)
        for output in result["outputs"]:
            self._pull_output(output, remote_run, run_dir)
        write_json_atomic(run_dir / "result.json", result)
        return protocol.BenchResult.from_dict(result)

    def _ensure_file(self, local: Path, kind: str, sha256: str | None, say) -> str:
        """Push ``local`` under a folder named by its content, unless the phone already has it."""
        if not local.is_file():
            raise BenchError(f"file to push not found: {local}")
        digest = sha256 or sha256_file(local)
        remote = posixpath.join(self.device_root, kind, digest[:16], local.name)
        device = Device(self.transport)
        if device.sha256(remote) == digest:
            return remote
        self.transport.check(["mkdir", "-p", posixpath.dirname(remote)])
        size = local.stat().st_size
        say(f"{self.target}: pushing {local.name} ({size} bytes)")
        with progress(length=size, label=f"push {local.name} to {self.target}") as bar:
            sent = [0]

            def advance(done: int, _total: int) -> None:
                bar.update(done - sent[0])
                sent[0] = done

            self.transport.push(local, remote, progress=advance)
        arrived = device.sha256(remote)
        if arrived != digest:
            raise DeviceError(f"{local.name} arrived damaged on {self.target} (sha256 {arrived} != {digest})",
                              serial=self.target, hint="rerun; if it repeats, check the cable")
        return remote

    def _read_result(self, bundle: dict, remote_run: str) -> dict:
        text = bundle.get("result")
        if text:
            try:
                return json.loads(text)
            except ValueError:
                pass  # the bundle was cut or mangled: the file on the phone is the reference
        remote = bundle.get("result_path") or posixpath.join(remote_run, "result.json")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mobilekit-pull-") as scratch:
            local = Path(scratch) / "result.json"
            self.transport.pull(remote, local)
            try:
                return protocol.read_json(local, kind="result")
            except ProtocolError as exc:
                raise BenchError(f"the result pulled from {self.target} is not valid: {exc}") from None

    def _pull_output(self, output: dict, remote_run: str, run_dir: Path) -> None:
        # Only plain outputs*.npy names: a result must never make us write outside run_dir.
        name = output["file"]
        target = (run_dir / name).resolve()
        if not _SAFE_OUTPUT.match(name) or target.parent != run_dir.resolve():
            raise BenchError(f"the result names an output file {name!r} that is not outputs*.npy "
                             "in the run folder; refusing to pull it")
        self.transport.pull(posixpath.join(remote_run, name), target)
        problem = _npy_mismatch(target, output)
        if problem is not None:
            target.unlink(missing_ok=True)
            raise BenchError(f"{name} pulled from {self.target} {problem}; refusing it",
                             hint="rerun; if it repeats, reinstall the app: `mobilekit app install --force`")

    def _stop_app(self) -> None:
        try:
            self.transport.shell(["am", "force-stop", companion.APP_PACKAGE], timeout_s=10)
        except DeviceError:
            pass  # the link is gone too; the app dies with its instrumentation


def _printable_strings(value):
    """``value`` with control characters in every string replaced (line breaks kept)."""
    if isinstance(value, str):
        return replace_control(value, keep="\t\n")
    if isinstance(value, dict):
        return {key: _printable_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable_strings(item) for item in value]
    return value


def _npy_mismatch(path: Path, declared: dict) -> str | None:
    """Why the .npy at ``path`` is not the array the result declares (None when it is).

    Reads only the header, so a file claiming a huge shape is refused before anything loads it.
    """
    from numpy.lib import format as npy

    try:
        with open(path, "rb") as handle:
            version = npy.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(handle)
            else:
                return f"is .npy format {version[0]}.{version[1]}, which mobilekit does not read"
            data_offset = handle.tell()
    except (ValueError, OSError, EOFError) as exc:
        return f"is not a readable .npy file ({exc})"
    if dtype.hasobject or dtype.name != declared["dtype"]:
        return f"holds dtype {dtype} but the result declares {declared['dtype']}"
    if list(shape) != list(declared["shape"]):
        return f"holds shape {list(shape)} but the result declares {declared['shape']}"
    expected = data_offset + math.prod(shape) * dtype.itemsize  # exact: no int64 wrap-around
    size = path.stat().st_size
    if size != expected:
        return f"is {size} bytes but its header describes {expected}"
    return None


def device_runners(serials=None, all_devices: bool = False, adb: str = "auto", connect: str | None = None,
                   apk=None) -> list[Runner]:
    """One AndroidRunner per chosen phone: ``serials``, every ready phone (``all_devices``), the
    phone at ``connect``, or the only attached phone."""
    if connect:
        transports = [open_transport(serials[0] if serials else None, adb=adb, connect=connect)]
    elif serials:
        transports = [open_transport(serial, adb=adb) for serial in serials]
    elif all_devices:
        found = attached_serials(adb=adb)
        if not found:
            raise DeviceError("no Android device attached",
                              hint="connect phones with USB debugging on; check `mobilekit devices`")
        transports = [open_transport(serial, adb=adb) for serial in found]
    else:
        transports = [open_transport(None, adb=adb)]
    return [AndroidRunner(transport, apk=apk) for transport in transports]
