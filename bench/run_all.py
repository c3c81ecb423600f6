"""Run every benchmark under bench/ in turn (`make bench`); each prints its own ratios.

Each benchmark measures its baseline in the same run, because this kind of machine is shared and
noisy: compare ratios, not absolute times. Figures also land in bench/out/*.json.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_convert.py", "bench_host_overhead.py", "bench_telemetry.py", "bench_adb.py", "bench_optimize.py",
              "bench_onednn.py"]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / name)])
        print(f"--- {name}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
