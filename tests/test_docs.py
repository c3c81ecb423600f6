"""Every command is documented where users look: `--help` with a working example, and the README."""
from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from mobilekit.cli import COMMANDS, cli

from conftest import REPO


def _all_commands():
    for name in COMMANDS:
        command = cli.get_command(None, name)
        if command is None:
            continue
        yield [name], command
        if isinstance(command, click.Group):
            for sub in command.list_commands(None):
                yield [name, sub], command.get_command(None, sub)


def test_every_command_is_registered():
    missing = [name for name in COMMANDS if cli.get_command(None, name) is None]
    assert not missing, f"commands in the table with no module: {missing}"


@pytest.mark.parametrize("words", [words for words, _ in _all_commands()], ids=" ".join)
def test_help_has_an_example(words):
    result = CliRunner().invoke(cli, [*words, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`mobilekit {' '.join(words)} --help` shows no example"
    assert "mobilekit " + words[0] in result.output


def test_readme_names_every_command():
    readme = (REPO / "README.md").read_text()
    for name in COMMANDS:
        assert f"mobilekit {name}" in readme, f"README does not show `mobilekit {name}`"


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"], ["bench", "--help"],
                                  ["devices", "--help"]])
def test_help_does_not_import_tensorflow(argv):
    code = ("import sys; from mobilekit.cli import cli; "
            f"sys.argv=['mobilekit', *{argv!r}]\n"
            "try:\n    cli.main(prog_name='mobilekit')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tensorflow', 'tf_keras', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_python_m_mobilekit_works():
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "mobilekit" in proc.stdout


def test_readme_python_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    # Same code, writing under a temporary folder instead of the checkout's out/.
    script = block.replace('"out/', f'"{tmp_path}/out/')
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
