"""Source rules from the product brief that a reviewer would otherwise check by eye: every np.load
refuses pickles, no shell=True / os.system, sockets bind to 127.0.0.1 only. AST scans of the repo."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("mobilekit", "tests", "bench", "scripts", "sample_models", "android_app")


def python_files():
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            if not any(part.startswith(".") or part in ("build", "__pycache__") for part in path.parts):
                yield path


def calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def where(path: Path, node) -> str:
    return f"{path.relative_to(REPO)}:{node.lineno}"


def keyword(node: ast.Call, name: str):
    return next((kw.value for kw in node.keywords if kw.arg == name), None)


def test_every_np_load_refuses_pickles():
    offenders = []
    for path in python_files():
        for node in calls(path):
            if dotted(node.func) in ("np.load", "numpy.load"):
                value = keyword(node, "allow_pickle")
                if not (isinstance(value, ast.Constant) and value.value is False):
                    offenders.append(where(path, node))
    assert offenders == [], f"np.load without allow_pickle=False: {offenders}"


def test_no_shell_strings_on_this_computer():
    offenders = []
    for path in python_files():
        for node in calls(path):
            name = dotted(node.func)
            if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
                offenders.append(where(path, node))
            value = keyword(node, "shell")
            if name.startswith("subprocess.") and not (value is None or
                                                       (isinstance(value, ast.Constant) and value.value is False)):
                offenders.append(where(path, node))
    assert offenders == [], f"commands run through a shell: {offenders}"


def test_sockets_bind_only_to_loopback():
    offenders = []
    for path in python_files():
        for node in calls(path):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "bind" and node.args \
                    and isinstance(node.args[0], ast.Tuple):
                host = node.args[0].elts[0] if node.args[0].elts else None
                if not (isinstance(host, ast.Constant) and host.value in ("127.0.0.1", "::1")):
                    offenders.append(where(path, node))
    assert offenders == [], f"sockets bound beyond 127.0.0.1: {offenders}"


def test_json_records_are_written_atomically():
    """Results, cards, summaries and benchmark figures go through mobilekit._io: a plain
    write_text/json.dump leaves a half-written file where a finished one is expected."""
    offenders = []
    for top in ("mobilekit", "bench"):
        for path in sorted((REPO / top).rglob("*.py")):
            if path.name == "_io.py":
                continue
            for node in calls(path):
                name = dotted(node.func)
                if name == "json.dump":
                    offenders.append(where(path, node))
                writes = isinstance(node.func, ast.Attribute) and node.func.attr in ("write_text", "write_bytes")
                if writes and any(isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith(".json")
                                  for n in ast.walk(node.func.value)):
                    offenders.append(where(path, node))
    assert offenders == [], f"JSON written without mobilekit._io: {offenders}"


def test_the_scan_sees_the_code_it_guards():
    """The rules above pass vacuously if the walk finds nothing: it must see the known call sites."""
    seen = {str(path.relative_to(REPO)) for path in python_files()}
    assert {"mobilekit/benchmark/host_child.py", "tests/adb_emulator/device.py", "mobilekit/benchmark/host_parent.py"} <= seen
    loads = sum(dotted(node.func) == "np.load" for node in calls(REPO / "mobilekit/benchmark/core.py"))
    assert loads >= 2
