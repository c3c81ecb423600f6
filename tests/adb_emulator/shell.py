"""A small POSIX-style shell for the emulated device: the exact quoting rules of `/system/bin/sh`
for the commands mobilekit sends, and a canary for anything that would inject a command.

Words are split and unquoted like mksh does (single quotes literal; double quotes keep `$`
expansion; backslash escapes), then commands run as Python functions on the device's files.
A command substitution (`$(...)` or backticks) is never executed: it is recorded in
``device.injections`` so a test can prove that no caller ever lets one through. Commands the
device does not know are recorded in ``device.unknown_commands`` (exit 127, like `sh`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat as stat_module
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

OPERATORS = (";", "&&", "||", "|", "&", "\n")


class ShellSyntaxError(Exception):
    pass


@dataclass
class Word:
    # pieces: ("lit", text) | ("var", name) | ("subst", source)
    pieces: list = field(default_factory=list)


@dataclass
class Redirect:
    fd: int
    op: str          # ">", ">>", "<", ">&"
    target: object   # Word, or int for ">&"


@dataclass
class SimpleCommand:
    words: list
    redirects: list


def tokenize(line: str) -> list:
    """Split a command line into Word objects, operator strings and Redirects."""
    tokens: list = []
    pieces: list = []
    literal: list[str] = []
    state = {"in_word": False, "digits_only": True}
    i, n = 0, len(line)

    def add_char(ch, quoted):
        literal.append(ch)
        state["in_word"] = True
        if quoted or not ch.isdigit():
            state["digits_only"] = False

    def flush_literal():
        if literal:
            pieces.append(("lit", "".join(literal)))
            literal.clear()

    def end_word():
        flush_literal()
        if state["in_word"]:
            tokens.append(Word(list(pieces)))
        pieces.clear()
        state["in_word"] = False
        state["digits_only"] = True

    def read_dollar(j, quoted):
        """Parse at line[j] == '$'; returns (piece or None, new index)."""
        if j + 1 >= n:
            return None, j
        nxt = line[j + 1]
        if nxt == "(":
            depth, k = 0, j + 1
            while k < n:
                if line[k] == "(":
                    depth += 1
                elif line[k] == ")":
                    depth -= 1
                    if depth == 0:
                        return ("subst", line[j:k + 1]), k + 1
                k += 1
            raise ShellSyntaxError("unterminated $(")
        if nxt == "{":
            end = line.find("}", j + 2)
            if end < 0:
                raise ShellSyntaxError("unterminated ${")
            return ("var", line[j + 2:end]), end + 1
        if nxt in "?$#!@*-0123456789":
            return ("var", nxt), j + 2
        if nxt.isalpha() or nxt == "_":
            k = j + 1
            while k < n and (line[k].isalnum() or line[k] == "_"):
                k += 1
            return ("var", line[j + 1:k]), k
        return None, j

    while i < n:
        ch = line[i]
        if ch in " \t":
            end_word()
            i += 1
        elif ch == "#" and not state["in_word"]:
            while i < n and line[i] != "\n":
                i += 1
        elif ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quote")
            state["in_word"] = True
            state["digits_only"] = False
            literal.extend(line[i + 1:end])
            i = end + 1
        elif ch == '"':
            state["in_word"] = True
            state["digits_only"] = False
            i += 1
            while True:
                if i >= n:
                    raise ShellSyntaxError("unterminated double quote")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
                    if line[i + 1] != "\n":
                        literal.append(line[i + 1])
                    i += 2
                elif c == "$":
                    piece, j = read_dollar(i, True)
                    if piece is None:
                        literal.append(c)
                        i += 1
                    else:
                        flush_literal()
                        pieces.append(piece)
                        i = j
                elif c == "`":
                    end = line.find("`", i + 1)
                    if end < 0:
                        raise ShellSyntaxError("unterminated backquote")
                    flush_literal()
                    pieces.append(("subst", line[i:end + 1]))
                    i = end + 1
                else:
                    literal.append(c)
                    i += 1
        elif ch == "\\":
            if i + 1 < n:
                if line[i + 1] != "\n":
                    add_char(line[i + 1], True)
                i += 2
            else:
                i += 1
        elif ch == "$":
            piece, j = read_dollar(i, False)
            if piece is None:
                add_char(ch, False)
                i += 1
            else:
                flush_literal()
                state["in_word"] = True
                state["digits_only"] = False
                pieces.append(piece)
                i = j
        elif ch == "`":
            end = line.find("`", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated backquote")
            flush_literal()
            state["in_word"] = True
            pieces.append(("subst", line[i:end + 1]))
            i = end + 1
        elif ch in "<>":
            fd = 1 if ch == ">" else 0
            if state["in_word"] and state["digits_only"] and not pieces and literal:
                fd = int("".join(literal))
                literal.clear()
                state["in_word"] = False
            end_word()
            op = ch
            i += 1
            if ch == ">" and i < n and line[i] == ">":
                op, i = ">>", i + 1
            if ch == ">" and i < n and line[i] == "&":
                k = i + 1
                while k < n and line[k].isdigit():
                    k += 1
                if k == i + 1:
                    raise ShellSyntaxError("bad fd redirection")
                tokens.append(Redirect(fd, ">&", int(line[i + 1:k])))
                i = k
                continue
            tokens.append(Redirect(fd, op, None))
        elif ch in ";&|\n":
            end_word()
            if line.startswith("&&", i) or line.startswith("||", i):
                tokens.append(line[i:i + 2])
                i += 2
            else:
                tokens.append(ch)
                i += 1
        elif ch in "()":
            raise ShellSyntaxError(f"syntax error: unexpected '{ch}'")
        else:
            add_char(ch, False)
            i += 1
    end_word()
    return tokens


def parse(line: str) -> list[tuple[str | None, SimpleCommand]]:
    """[(connector, command)]; connector is how the command joins the previous one."""
    tokens = tokenize(line)
    result: list = []
    words: list = []
    redirects: list = []
    connector = None
    pending_redirect = None
    for token in tokens:
        if isinstance(token, Redirect):
            if pending_redirect is not None:
                raise ShellSyntaxError("syntax error: redirection without a target")
            if token.op == ">&":
                redirects.append(token)
            else:
                pending_redirect = token
        elif isinstance(token, Word):
            if pending_redirect is not None:
                pending_redirect.target = token
                redirects.append(pending_redirect)
                pending_redirect = None
            else:
                words.append(token)
        else:
            if pending_redirect is not None:
                raise ShellSyntaxError(f"syntax error: unexpected '{token}'")
            if token == "|":
                raise ShellSyntaxError("pipes are not supported by the emulated device")
            if words or redirects:
                result.append((connector, SimpleCommand(words, redirects)))
            elif token in ("&&", "||"):
                raise ShellSyntaxError(f"syntax error: unexpected '{token}'")
            words, redirects = [], []
            connector = ";" if token in (";", "\n", "&") else token
    if pending_redirect is not None:
        raise ShellSyntaxError("syntax error: unexpected end of line")
    if words or redirects:
        result.append((connector, SimpleCommand(words, redirects)))
    return result


class ExitShell(Exception):
    def __init__(self, code):
        self.code = code


class Invocation:
    """What a command sees: its arguments, output writers, stdin and a cancel flag."""

    def __init__(self, shell, argv, out, err, stdin, cancelled, flush=None):
        self.shell, self.argv, self.out, self.err = shell, argv, out, err
        self.stdin = stdin
        self.flush = flush or (lambda: None)
        self.cancelled = cancelled
        self.fs = shell.device.fs

    def print(self, text: str = "", end: str = "\n"):
        self.out((text + end).encode("utf-8", "surrogateescape"))

    def error(self, text: str):
        self.err((text + "\n").encode("utf-8", "surrogateescape"))


CommandFn = Callable[[Invocation], int]


class Shell:
    def __init__(self, device):
        self.device = device
        self.commands: dict[str, CommandFn] = {
            "echo": _echo, "true": lambda inv: 0, "false": lambda inv: 1, "exit": _exit,
            "mkdir": _mkdir, "rm": _rm, "ls": _ls, "cat": _cat, "sha256sum": _sha256sum,
            "df": _df, "stat": _stat, "touch": _touch, "mv": _mv, "cp": _cp, "chmod": _chmod,
            "sleep": _sleep, "id": _id, "test": _test, "[": _test, "wc": _wc,
        }

    def run(self, line: str, out, err, *, stdin=None, cancelled: threading.Event | None = None,
            flush=None) -> int:
        cancelled = cancelled or threading.Event()
        self._flush = flush
        self.device.command_log.append(line)
        try:
            program = parse(line)
        except ShellSyntaxError as exc:
            err(f"/system/bin/sh: {exc}\n".encode())
            return 2
        status = 0
        env = {"?": "0", "$": str(os.getpid()), "HOME": "/", "PATH": "/system/bin", "0": "sh"}
        for connector, command in program:
            if connector == "&&" and status != 0:
                continue
            if connector == "||" and status == 0:
                continue
            began = time.monotonic()
            try:
                status = self._run_simple(command, env, out, err, stdin, cancelled)
            except ExitShell as stop:
                return stop.code
            if flush is not None and time.monotonic() - began > 0.01:
                flush()  # a slow command's output reaches the host before the next one starts
            env["?"] = str(status)
            if cancelled.is_set():
                return 130
        return status

    def _expand(self, word: Word, env) -> str:
        parts = []
        for kind, text in word.pieces:
            if kind == "lit":
                parts.append(text)
            elif kind == "var":
                parts.append(env.get(text, ""))
            else:  # a command substitution: the injection canary
                self.device.injections.append(text)
                parts.append("")
        return "".join(parts)

    def _run_simple(self, command: SimpleCommand, env, out, err, stdin, cancelled) -> int:
        argv = [self._expand(word, env) for word in command.words]
        files = []
        try:
            for redirect in command.redirects:
                if redirect.op == ">&":
                    target_writer = {1: out, 2: err}.get(redirect.target)
                    if target_writer is None:
                        err(b"/system/bin/sh: bad file descriptor\n")
                        return 1
                    if redirect.fd == 1:
                        out = target_writer
                    elif redirect.fd == 2:
                        err = target_writer
                    continue
                target = self._expand(redirect.target, env)
                if redirect.op == "<":
                    try:
                        data = self.device.fs.host(target).read_bytes()
                    except OSError:
                        err(f"/system/bin/sh: can't open {target}: No such file or directory\n".encode())
                        return 1
                    chunks = [data]
                    stdin = lambda: chunks.pop() if chunks else b""  # noqa: E731
                    continue
                writer = self._file_writer(target, append=redirect.op == ">>", files=files)
                if writer is None:
                    err(f"/system/bin/sh: can't create {target}: No such file or directory\n".encode())
                    return 1
                if redirect.fd == 1:
                    out = writer
                elif redirect.fd == 2:
                    err = writer
            if not argv:
                return 0
            name = argv[0]
            function = self.commands.get(name)
            if name == "sha256sum" and self.device.faults.no_sha256sum:
                function = None
            if function is None:
                self.device.unknown_commands.append(name)
                err(f"/system/bin/sh: {name}: inaccessible or not found\n".encode("utf-8", "surrogateescape"))
                return 127
            invocation = Invocation(self, argv, out, err, stdin, cancelled, self._flush)
            try:
                return function(invocation)
            except OSError as exc:
                invocation.error(f"{name}: {exc.strerror or exc}")
                return 1
        finally:
            for handle in files:
                handle.close()

    def _file_writer(self, target: str, *, append: bool, files: list):
        if target == "/dev/null":
            return lambda data: None
        try:
            path = self.device.fs.host(target)
            handle = open(path, "ab" if append else "wb")
        except OSError:
            return None
        files.append(handle)
        fs = self.device.fs

        def write(data: bytes):
            fs.reserve(len(data))
            handle.write(data)
        return write


# ---- the commands -------------------------------------------------------------------------------

def _echo(inv: Invocation) -> int:
    args = inv.argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    inv.print(" ".join(args), end="\n" if newline else "")
    return 0


def _exit(inv: Invocation) -> int:
    raise ExitShell(int(inv.argv[1]) if len(inv.argv) > 1 else 0)


def _split_flags(args, known: str):
    flags, rest = set(), []
    for index, arg in enumerate(args):
        if arg == "--":
            rest.extend(args[index + 1:])
            break
        if arg.startswith("-") and len(arg) > 1 and all(ch in known for ch in arg[1:]):
            flags.update(arg[1:])
        else:
            rest.append(arg)
    return flags, rest


def _mkdir(inv: Invocation) -> int:
    flags, paths = _split_flags(inv.argv[1:], "p")
    status = 0
    for path in paths:
        host = inv.fs.host(path)
        try:
            if "p" in flags:
                host.mkdir(parents=True, exist_ok=True)
            else:
                host.mkdir()
        except FileExistsError:
            inv.error(f"mkdir: '{path}': File exists")
            status = 1
        except FileNotFoundError:
            inv.error(f"mkdir: '{path}': No such file or directory")
            status = 1
    return status


def _rm(inv: Invocation) -> int:
    flags, paths = _split_flags(inv.argv[1:], "rfR")
    status = 0
    for path in paths:
        host = inv.fs.host(path)
        if host == inv.fs.root:
            inv.error("rm: refusing to remove '/'")
            status = 1
            continue
        if host.is_dir() and not host.is_symlink():
            if "r" in flags or "R" in flags:
                size = sum(p.stat().st_size for p in host.rglob("*") if p.is_file())
                shutil.rmtree(host)
                inv.fs.release(size)
            else:
                inv.error(f"rm: {path}: is a directory")
                status = 1
        elif host.exists() or host.is_symlink():
            size = host.stat().st_size if host.is_file() else 0
            host.unlink()
            inv.fs.release(size)
        elif "f" not in flags:
            inv.error(f"rm: {path}: No such file or directory")
            status = 1
    return status


def _ls(inv: Invocation) -> int:
    flags, paths = _split_flags(inv.argv[1:], "1laA")
    status = 0
    for path in paths or ["."]:
        host = inv.fs.host(path)
        if not host.exists():
            inv.error(f"ls: {path}: No such file or directory")
            status = 1
            continue
        entries = sorted(os.listdir(host)) if host.is_dir() else [path]
        for entry in entries:
            if "l" in flags:
                target = host / entry if host.is_dir() else host
                info = target.stat()
                kind = "d" if target.is_dir() else "-"
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.st_mtime))
                inv.print(f"{kind}rw-rw---- 1 shell shell {info.st_size} {when} {entry}")
            else:
                inv.print(entry)
    return status


def _cat(inv: Invocation) -> int:
    status = 0
    for path in inv.argv[1:]:
        host = inv.fs.host(path)
        if not host.is_file():
            inv.error(f"cat: {path}: No such file or directory")
            status = 1
            continue
        with open(host, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                inv.out(chunk)
    return status


def _sha256sum(inv: Invocation) -> int:
    status = 0
    for path in inv.argv[1:]:
        host = inv.fs.host(path)
        if not host.is_file():
            inv.error(f"sha256sum: {path}: No such file or directory")
            status = 1
            continue
        digest = hashlib.sha256()
        with open(host, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        inv.print(f"{digest.hexdigest()}  {path}")
    return status


def _df(inv: Invocation) -> int:
    fs = inv.fs
    total_k = fs.capacity_bytes // 1024
    free_k = fs.available_bytes() // 1024
    used_k = total_k - free_k
    inv.print("Filesystem      1K-blocks     Used Available Use% Mounted on")
    inv.print(f"/dev/block/dm-5 {total_k:9d} {used_k:8d} {free_k:9d} {100 * used_k // max(total_k, 1):3d}% /data")
    return 0


def _stat(inv: Invocation) -> int:
    args = inv.argv[1:]
    fmt = None
    if len(args) >= 2 and args[0] == "-c":
        fmt, args = args[1], args[2:]
    status = 0
    for path in args:
        host = inv.fs.host(path)
        if not host.exists():
            inv.error(f"stat: '{path}': No such file or directory")
            status = 1
            continue
        info = host.stat()
        if fmt is None:
            inv.print(f"  File: {path}\n  Size: {info.st_size}\t Blocks: {info.st_blocks}\n"
                      f"Access: ({stat_module.S_IMODE(info.st_mode):04o})")
            continue
        values = {"s": str(info.st_size), "Y": str(int(info.st_mtime)), "n": path,
                  "a": f"{stat_module.S_IMODE(info.st_mode):o}", "F": "directory" if host.is_dir() else "regular file"}
        text, k = [], 0
        while k < len(fmt):
            if fmt[k] == "%" and k + 1 < len(fmt):
                text.append(values.get(fmt[k + 1], "?"))
                k += 2
            else:
                text.append(fmt[k])
                k += 1
        inv.print("".join(text))
    return status


def _touch(inv: Invocation) -> int:
    for path in inv.argv[1:]:
        inv.fs.host(path).touch()
    return 0


def _mv(inv: Invocation) -> int:
    if len(inv.argv) != 3:
        inv.error("usage: mv SOURCE DEST")
        return 1
    os.replace(inv.fs.host(inv.argv[1]), inv.fs.host(inv.argv[2]))
    return 0


def _cp(inv: Invocation) -> int:
    if len(inv.argv) != 3:
        inv.error("usage: cp SOURCE DEST")
        return 1
    source = inv.fs.host(inv.argv[1])
    inv.fs.reserve(source.stat().st_size)
    shutil.copyfile(source, inv.fs.host(inv.argv[2]))
    return 0


def _chmod(inv: Invocation) -> int:
    status = 0
    for path in inv.argv[2:]:
        if not inv.fs.host(path).exists():
            inv.error(f"chmod: {path}: No such file or directory")
            status = 1
    return status


def _sleep(inv: Invocation) -> int:
    inv.cancelled.wait(float(inv.argv[1]) if len(inv.argv) > 1 else 0)
    return 0


def _id(inv: Invocation) -> int:
    inv.print("uid=2000(shell) gid=2000(shell) groups=2000(shell) context=u:r:shell:s0")
    return 0


def _wc(inv: Invocation) -> int:
    flags, paths = _split_flags(inv.argv[1:], "c")
    for path in paths:
        inv.print(f"{inv.fs.host(path).stat().st_size} {path}")
    return 0


def _test(inv: Invocation) -> int:
    args = inv.argv[1:]
    if inv.argv[0] == "[":
        if not args or args[-1] != "]":
            inv.error("[: missing ]")
            return 2
        args = args[:-1]
    if len(args) == 2 and args[0] in ("-e", "-f", "-d", "-s"):
        host = inv.fs.host(args[1])
        check = {"-e": host.exists, "-f": host.is_file, "-d": host.is_dir,
                 "-s": lambda: host.is_file() and host.stat().st_size > 0}[args[0]]
        return 0 if check() else 1
    if len(args) == 3 and args[1] in ("=", "!="):
        return 0 if (args[0] == args[2]) == (args[1] == "=") else 1
    inv.error(f"test: unsupported expression: {' '.join(args)}")
    return 2


__all__ = ["Shell", "Invocation", "parse", "tokenize", "ShellSyntaxError"]
