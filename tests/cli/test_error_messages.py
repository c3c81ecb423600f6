""""please report it" is for mobilekit's own bugs only, read from the source as test_docs reads the
help: the words appear once, in the CLI's catch-all for exceptions that are not MobilekitError; no
MobilekitError (what user input causes) carries them; and library code raises no bare builtin
exception (which would land in that catch-all) except the few internal invariants listed here,
each with why a user cannot reach it."""
from __future__ import annotations

import ast
import builtins
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "mobilekit"
PHRASE = "please report it"

# (module path, exception, why it is a bug and not user input). Keep this list short and honest.
INTERNAL_INVARIANTS = {
    ("mobilekit/optimization/stripping.py", "ValueError"): "an unknown step kind from our own table",
    ("mobilekit/reporting/comparison.py", "ValueError"): "compare() refuses empty sides before this",
    ("mobilekit/_io.py", "TypeError"): "json default for a type we put in a record by mistake",
    ("mobilekit/_compat.py", "KeyError"): "the Mapping protocol of the lazy tool table",
    ("mobilekit/results/stats.py", "ValueError"): "callers pass only runs with finite samples",
    ("mobilekit/_fileset.py", "ValueError"): "one output set given the same file twice by our code",
    ("mobilekit/__init__.py", "AttributeError"): "the module __getattr__ protocol (hasattr relies on it)",
    ("mobilekit/device/direct.py", "ConnectionResetError"):
        "inside the transport; its callers turn OSError into 'connection lost' DeviceErrors",
    ("mobilekit/device/server.py", "ConnectionError"):
        "inside the transport; its callers turn OSError into DeviceErrors",
}
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, BaseException)}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _strings(node) -> str:
    return " ".join(sub.value for sub in ast.walk(node)
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str))


def test_the_phrase_appears_only_in_the_catch_all_for_bugs():
    found = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and PHRASE in node.value:
                found.append((name, node.lineno))
    assert [name for name, _ in found] == ["mobilekit/cli/_common.py"], found
    tree = ast.parse((PACKAGE / "cli" / "_common.py").read_text(encoding="utf-8"))
    handlers = [handler for handler in ast.walk(tree) if isinstance(handler, ast.ExceptHandler)
                and PHRASE in _strings(handler)]
    assert len(handlers) == 1
    # ... and that handler is the one for exceptions that are not MobilekitError
    assert isinstance(handlers[0].type, ast.Name) and handlers[0].type.id == "Exception"
    earlier = [h for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)
               and isinstance(h.type, ast.Name) and h.type.id == "MobilekitError"]
    assert earlier and earlier[0].lineno < handlers[0].lineno


def test_no_user_facing_error_asks_to_be_reported():
    offenders = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None and PHRASE in _strings(node.exc):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"a raised error asks to be reported: {offenders}"


def test_library_code_raises_no_bare_builtin_error_but_the_listed_invariants():
    found = set()
    unlisted = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            exc_name = call.id if isinstance(call, ast.Name) else None
            if exc_name in BUILTIN_ERRORS and exc_name not in ("KeyboardInterrupt", "SystemExit",
                                                               "StopIteration", "NotImplementedError"):
                found.add((name, exc_name))
                if (name, exc_name) not in INTERNAL_INVARIANTS:
                    unlisted.append(f"{name}:{node.lineno} raises {exc_name}")
    assert not unlisted, ("raise a MobilekitError with a message that says what to do, or list the "
                          f"invariant in INTERNAL_INVARIANTS with why no user reaches it: {unlisted}")
    stale = set(INTERNAL_INVARIANTS) - found
    assert not stale, f"INTERNAL_INVARIANTS lists raises that are gone: {stale}"


def test_every_error_class_users_meet_is_a_mobilekit_error():
    from mobilekit import errors

    tree = ast.parse(Path(errors.__file__).read_text(encoding="utf-8"))
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert all(issubclass(getattr(errors, name), errors.MobilekitError) for name in classes)
