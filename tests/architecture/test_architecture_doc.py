"""docs/ARCHITECTURE.md and the README's layout table describe the tree as it is: every module of
mobilekit/ has its line, every module a line names exists, and every layer of the test's order is
drawn."""
from __future__ import annotations

import re
from pathlib import Path

from test_layers import LAYERS, PACKAGE, REPO

DOC = REPO / "docs" / "ARCHITECTURE.md"


def modules_on_disk() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py" and path.parent != PACKAGE:
            continue  # a package is described by its modules (or its folder, below)
        found.add(relative)
    return found


def named_in_doc() -> set[str]:
    """Every `path` of the doc's module list ("## One line per module" to the end)."""
    text = DOC.read_text(encoding="utf-8").split("## One line per module", 1)[1]
    return set(re.findall(r"`([A-Za-z0-9_./]+)`", text))


def test_every_module_has_a_line():
    named = named_in_doc()
    missing = []
    for module in sorted(modules_on_disk()):
        stem = module[:-3]
        candidates = {module, stem} if "/" in module else {module, stem, f"{stem}.py"}
        if module in ("__init__.py", "__main__.py"):
            continue
        if not candidates & named:
            missing.append(module)
    assert missing == [], f"modules without a line in {DOC.name}: {missing}"


def test_every_named_module_exists():
    gone = [name for name in named_in_doc()
            if name.endswith(".py") and "/" in name and not (PACKAGE / name).is_file()]
    assert gone == [], f"{DOC.name} names modules that do not exist: {gone}"


def test_every_layer_is_drawn():
    text = DOC.read_text(encoding="utf-8")
    assert all(re.search(rf"^\s*{name}\b", text, re.MULTILINE) for name, _ in LAYERS), \
        "the diagram must show every layer of tests/architecture/test_layers.py"


def test_readme_layout_names_every_package():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `mobilekit/` |"))
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert all(f"`{name}/`" in row for name in packages), (packages, row)
