"""Benchmarking: the request/result protocol, statistics, runners (host and phone) and `bench()`.

``mobilekit.bench`` is both this package and the public ``bench()`` function: once any submodule
is imported, Python binds the package to ``mobilekit.bench``, so the package itself forwards calls
to :func:`mobilekit.bench.api.bench` and ``from mobilekit import bench; bench(...)`` always works.
"""
from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .api import bench

        return bench(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
