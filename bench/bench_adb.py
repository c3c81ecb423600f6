"""Push throughput to the emulated phone: mobilekit (auto, adb server, direct) against `adb push`
in the same run (goal: auto >= 0.8 x adb push), and the direct transport's shell round trip
(goal: <= 2 ms). Rounds alternate the order of the sides; each side's figure is its median.
Writes bench/out/adb.json.

    .venv/bin/python bench/bench_adb.py [--mib 20] [--rounds 5] [--round-trips 300]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=300)
    args = parser.parse_args()

    import subprocess

    from adb_emulator.harness import AdbServerProcess

    with tempfile.TemporaryDirectory(prefix="bench-adb-") as scratch:
        home = Path(scratch)
        os.environ["ANDROID_USER_HOME"] = str(home / ".android")
        from mobilekit.device.discovery import open_transport
        from mobilekit.device.keys import ensure_key

        key = ensure_key()
        payload = home / "payload.bin"
        payload.write_bytes(os.urandom(args.mib << 20))
        size = payload.stat().st_size
        # The phone runs in its own process, as a real one does: sharing this process's GIL with
        # the client would charge the client for the device's work.
        root = home / "root"
        phone = subprocess.Popen([sys.executable, "-m", "adb_emulator", "--root", str(root), "--key", f"{key}.pub"],
                                 cwd=REPO / "tests", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        address = phone.stdout.readline().strip()

        class device:  # what the measurements need of the phone
            pass
        device.address = address
        device.root = root
        server = AdbServerProcess(home).start()
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
        try:
            connected = server.run("connect", device.address).stdout
            if "connected to" not in connected:
                raise SystemExit(f"adb connect failed: {connected}")
            transports = {
                "auto": open_transport(adb="auto", connect=device.address),
                "server": open_transport(adb="server", connect=device.address),
                "direct": open_transport(adb="direct", connect=device.address),
            }
            assert transports["auto"].kind == "server", "auto must pick the answering adb server"

            def adb_push(remote):
                done = server.run("-s", device.address, "push", str(payload), remote)
                if done.returncode != 0:
                    raise SystemExit(f"adb push failed: {done.stderr}")

            sides = {"adb push": adb_push}
            for name, transport in transports.items():
                sides[f"mobilekit {name}"] = (lambda t: lambda remote: t.push(payload, remote))(transport)
            seconds: dict[str, list[float]] = {name: [] for name in sides}
            names = list(sides)
            for index in range(args.rounds):
                order = names if index % 2 == 0 else names[::-1]
                for name in order:
                    remote = f"/data/local/tmp/bench/{name.replace(' ', '_')}.bin"
                    began = time.perf_counter()
                    sides[name](remote)
                    seconds[name].append(time.perf_counter() - began)
                    if (device.root / remote.lstrip("/")).stat().st_size != size:
                        raise SystemExit(f"{name}: the file did not arrive whole")
            mib_s = {name: (size / (1 << 20)) / statistics.median(values) for name, values in seconds.items()}
            baseline = mib_s["adb push"]

            direct = transports["direct"]
            direct.shell(["true"])
            # In batches: on a shared machine one batch can land on a busy moment; the median of
            # batch medians is what a quiet machine sees, and every batch is kept in the report.
            batches = []
            for _ in range(5):
                batch = []
                for _ in range(max(args.round_trips // 5, 1)):
                    began = time.perf_counter()
                    direct.shell(["echo", "ok"])
                    batch.append(time.perf_counter() - began)
                batches.append(batch)
            trips = [value for batch in batches for value in batch]
            server_trips = []
            for _ in range(min(args.round_trips, 100)):
                began = time.perf_counter()
                transports["server"].shell(["echo", "ok"])
                server_trips.append(time.perf_counter() - began)
            for transport in transports.values():
                transport.close()
        finally:
            server.stop()
            phone.stdin.close()
            phone.wait(timeout=10)

    report = {"payload_mib": args.mib, "rounds": args.rounds, "seconds": seconds,
              "throughput_mib_s": mib_s, "ratio_to_adb_push": {n: v / baseline for n, v in mib_s.items()},
              "direct_shell_round_trip_ms_median": statistics.median(statistics.median(b) for b in batches) * 1e3,
              "direct_shell_round_trip_ms_batch_medians": [statistics.median(b) * 1e3 for b in batches],
              "direct_shell_round_trip_ms_p90": sorted(trips)[int(0.9 * (len(trips) - 1))] * 1e3,
              "server_shell_round_trip_ms_median": statistics.median(server_trips) * 1e3,
              "goals": {"auto_ratio_min": 0.8, "direct_round_trip_ms_max": 2.0},
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    from mobilekit._io import write_json_atomic  # a run killed while writing keeps the last figures whole

    write_json_atomic(OUT / "adb.json", report)
    print(f"push of {args.mib} MiB to the emulated phone, median of {args.rounds} rounds:")
    for name, value in mib_s.items():
        print(f"  {name:17s} {value:8.1f} MiB/s   {value / baseline:5.2f} x adb push")
    auto_ratio = mib_s["mobilekit auto"] / baseline
    print(f"auto / adb push = {auto_ratio:.2f} (goal >= 0.8: {'met' if auto_ratio >= 0.8 else 'NOT met'})")
    rt = report["direct_shell_round_trip_ms_median"]
    batch_text = ", ".join(f"{value:.2f}" for value in report["direct_shell_round_trip_ms_batch_medians"])
    print(f"direct shell round trip: median {rt:.3f} ms (batch medians {batch_text} ms), p90 "
          f"{report['direct_shell_round_trip_ms_p90']:.3f} ms "
          f"(goal <= 2 ms: {'met' if rt <= 2 else 'NOT met'}); through the adb server: "
          f"{report['server_shell_round_trip_ms_median']:.3f} ms")


if __name__ == "__main__":
    main()
