"""Lets a stage's package double as its public function (``mobilekit.convert(...)``).

``mobilekit.convert`` is both the package and the API function. Importing any submodule
(``mobilekit.convert.core``) makes Python bind the package to ``mobilekit.convert``, hiding the
function; so each such package makes itself callable, forwarding to the function, and both
spellings keep working whatever was imported first.
"""
from __future__ import annotations

import importlib
import sys
import types


def make_package_callable(package_name: str, target: str) -> None:
    """Make ``package_name`` callable as ``target`` ("module:function"), imported on first call."""
    module_name, function_name = target.split(":")

    class CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(module_name), function_name)(*args, **kwargs)

    CallablePackage.__name__ = f"CallablePackage[{target}]"
    sys.modules[package_name].__class__ = CallablePackage
