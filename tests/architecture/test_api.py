"""The public Python API: names exist, and stage functions stay callable whatever was imported first."""
from __future__ import annotations

import subprocess
import sys

import pytest

import mobilekit


def test_all_names_resolve():
    for name in mobilekit.__all__:
        assert getattr(mobilekit, name) is not None


@pytest.mark.parametrize("name,submodule", [("convert", "mobilekit.conversion.converter"),
                                            ("bench", "mobilekit.results.protocol"),
                                            ("report", "mobilekit.reporting.render"),
                                            ("optimize", "mobilekit.optimization.recipe"),
                                            ("evaluate", "mobilekit.analysis.evaluation"),
                                            ("inspect_model", "mobilekit.analysis.inspection"),
                                            ("compare", "mobilekit.reporting.comparison"),
                                            ("sweep", "mobilekit.sweeping")])
def test_stage_stays_callable_after_a_submodule_import(name, submodule):
    # A fresh interpreter, so the submodule really is imported before the public name is used.
    code = (f"import {submodule}, mobilekit, inspect\n"
            f"fn = mobilekit.{name}\n"
            f"assert callable(fn), type(fn)\n"
            f"from mobilekit import {name} as again\n"
            f"assert callable(again)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1500:]


def test_stage_call_reaches_the_function(tmp_path):
    # A wrong argument must fail inside the real function (its own one-line error), proving the
    # package forwards the call rather than swallowing it.
    from mobilekit.errors import MobilekitError

    with pytest.raises(MobilekitError):
        mobilekit.report([], tmp_path / "r.html")
