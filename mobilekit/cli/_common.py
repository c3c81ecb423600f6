"""What every command shares: error mapping at the boundary and common option bundles."""
from __future__ import annotations

import functools
import json
import sys

import click

from .._text import one_line
from ..errors import MobilekitError


def main_entry(group):
    """Run the group; library errors become one line on stderr and their exit code."""
    try:
        group.main(standalone_mode=False, prog_name="mobilekit")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted; finished results are kept, rerun to resume.", err=True)
        sys.exit(130)
    except MobilekitError as exc:
        if _debug_requested():
            raise
        click.echo(f"Error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if _debug_requested():
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {one_line(str(exc))} (rerun with --debug for the "
                   "traceback and please report it)", err=True)
        sys.exit(1)


def _debug_requested() -> bool:
    import os

    return "--debug" in sys.argv[1:] or os.environ.get("MOBILEKIT_DEBUG") not in (None, "", "0")


def run_command(fn):
    """Decorator for command bodies used under CliRunner too: MobilekitError -> ClickException-like
    exit, so tests with ``catch_exceptions=False`` see the same one-line behaviour as the console."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MobilekitError as exc:
            if _debug_requested() or _ctx_debug():
                raise
            raise _CommandFailed(one_line(str(exc)), exc.exit_code) from exc

    return wrapper


def _ctx_debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))


class _CommandFailed(click.ClickException):
    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(f"Error: {self.format_message()}", err=True)


def echo_json(obj):
    """Machine-readable output on stdout (records are dataclasses or dicts)."""
    from ..records import to_dict

    click.echo(json.dumps(to_dict(obj), indent=2, default=str))

