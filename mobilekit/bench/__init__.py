"""Benchmarking: the request/result protocol, statistics, runners (host and phone) and `bench()`."""
from __future__ import annotations

from .._callable import make_package_callable  # noqa: E402

# The package is also the public bench(): see mobilekit/_callable.py.
make_package_callable(__name__, "mobilekit.bench.api:bench")
