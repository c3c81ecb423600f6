"""Benchmarking: the request/result protocol, statistics, runners (host and phone) and `bench()`."""
from __future__ import annotations
