"""Writes the .npy files the benchcore tests read, with numpy itself, so the Java reader is held to
numpy's real output (every dtype, header versions 1 and 2, a 0-d array, and refusals).
Run from the repository root: .venv/bin/python android_app/scripts/make_npy_fixtures.py"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "benchcore" / "src" / "test" / "resources" / "npy"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # Values whose expected reading the Java test states as arange(6) reshaped to (2, 3), negated
    # for signed types so the sign handling is exercised too.
    base = np.arange(6).reshape(2, 3)
    for dtype in ["float32", "float16", "int8", "uint8", "int16", "int32", "int64"]:
        values = base if dtype == "uint8" else -base
        np.save(OUT / f"{dtype}.npy", values.astype(dtype))
    np.save(OUT / "bool.npy", (base % 2 == 1))
    np.save(OUT / "scalar.npy", np.array(2.5, dtype=np.float32))
    np.save(OUT / "empty.npy", np.zeros((0, 3), dtype=np.float32))
    with open(OUT / "v2.npy", "wb") as f:
        np.lib.format.write_array(f, (-base).astype(np.float32), version=(2, 0))
    np.save(OUT / "fortran.npy", np.asfortranarray(base.astype(np.float32)))
    np.save(OUT / "bigendian.npy", base.astype(">f4"))
    np.save(OUT / "float64.npy", base.astype(np.float64))
    full = (OUT / "float32.npy").read_bytes()
    (OUT / "truncated_data.npy").write_bytes(full[:-5])
    (OUT / "truncated_header.npy").write_bytes(full[:20])


if __name__ == "__main__":
    main()
