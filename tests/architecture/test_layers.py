"""The import graph of mobilekit/, read from the source (imports inside functions included), has no
cycle and no import that points up the layer order below. This is the one place the order is
written; docs/ARCHITECTURE.md draws it."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mobilekit"

# Lowest first. A module may import modules of its own layer (without a cycle) or of lower layers.
LAYERS = [
    ("base", ["mobilekit.errors", "mobilekit._text", "mobilekit._io", "mobilekit._progress",
              "mobilekit._compat", "mobilekit.records", "mobilekit._version", "mobilekit._guard",
              "mobilekit._fileset", "mobilekit._lifetime"]),
    ("ground", ["mobilekit.results", "mobilekit.models", "mobilekit.data"]),
    ("optimization", ["mobilekit.optimization"]),
    ("stages", ["mobilekit.conversion", "mobilekit.analysis", "mobilekit.device"]),
    ("benchmark", ["mobilekit.benchmark"]),
    ("reporting", ["mobilekit.reporting"]),
    ("sweep", ["mobilekit.sweeping"]),
    ("cli", ["mobilekit.cli", "mobilekit.__main__"]),
]
# The package root holds only the lazy public API table: it names every stage and is imported by
# none of them.
ROOT = "mobilekit"
# Modules that import by name at run time: the two lazy tables (their names are read as edges
# below), user code given as module:function, and TF-MOT internals that have no public path.
DYNAMIC_IMPORTS = {"mobilekit", "mobilekit.cli", "mobilekit.data.user_code",
                   "mobilekit.optimization.training"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def imports_of(path: Path) -> set[str]:
    """Every mobilekit module ``path`` imports, at module level or inside functions."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == ROOT}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != ROOT:
                continue
            for alias in node.names:  # `from pkg import module` names a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _is_module(candidate) else target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith(ROOT + ".") and _is_module(node.value):
            # A module named in a string: the lazy API and command tables, `python -m ...`.
            found.add(node.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and module not in DYNAMIC_IMPORTS:
            raise AssertionError(f"{module}: dynamic import at line {node.lineno}; import by name")
    return {name for name in found if name != module}


def _is_module(dotted: str) -> bool:
    path = REPO / Path(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    for module in graph():
        if module != ROOT:
            layer_of(module)


def test_no_import_points_up():
    upward = []
    for module, targets in graph().items():
        if module == ROOT:
            continue
        for target in targets:
            if target == ROOT:
                upward.append(f"{module} -> {ROOT} (import the piece from its module)")
            elif layer_of(target) > layer_of(module):
                upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) -> {target} "
                              f"({LAYERS[layer_of(target)][0]})")
    assert upward == [], "imports that point up the layer order:\n" + "\n".join(sorted(upward))


def test_no_cycle():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if target not in edges:
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_graph_sees_function_level_imports():
    # The rules above pass vacuously if imports inside functions were missed.
    assert "mobilekit.reporting.runs" in graph()["mobilekit.sweeping"]
