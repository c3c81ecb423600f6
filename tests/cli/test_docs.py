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


# ---------------------------------------------------------------------------------------------
# Every `--help` example runs as written

# Placeholders in the examples that name files a user would bring; each becomes a real file made
# by the sample models or by an earlier example. Everything else is run exactly as printed.
PLACEHOLDERS = {
    "model.keras": "sample_models/digits_cnn.keras",
    "calib.npz": "sample_models/digits_calibration.npz",
    "test.npz": "sample_models/digits_eval.npz",
    "model.tflite": "out/digits_fp32.tflite",
    "baseline.tflite": "out/digits_fp32.tflite",
    "candidate.tflite": "out/digits_int8.tflite",
    "old/result.json": "base/runs/host/*/result.json",
    "new/result.json": "cand/runs/host/*/result.json",
    "recipe.toml": "sample_models/recipes/demo.toml",
}
# Help sections in the order their examples build on each other (the report examples read the
# sweep's output folder, so sweep comes first).
EXAMPLE_ORDER = [[], ["convert"], ["inspect"], ["evaluate"], ["diagnose"], ["bench"], ["compare"], ["sweep"],
                 ["report"]]
DEVICE_COMMANDS = {"devices", "app"}


def _examples(words):
    """The example command lines of `mobilekit WORDS --help`, continuation lines joined."""
    import shlex

    text = CliRunner().invoke(cli, [*words, "--help"], catch_exceptions=False).output
    section = text.split("Example", 1)[1] if "Example" in text else text.split("Typical flow:", 1)[1]
    lines, pending = [], ""
    for raw in section.splitlines()[1:]:
        line = raw.strip()
        if not line and not pending:
            break
        if pending or line.startswith("mobilekit "):
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip() + " "
                continue
            lines.append(shlex.split(pending, comments=True)[1:])
            pending = ""
    assert lines, f"no example lines in `mobilekit {' '.join(words)} --help`"
    return lines


def _parse(argv):
    """Parse an example with click (option names, choices, callbacks) without running it."""
    args = list(argv[:argv.index(">")] if ">" in argv else argv)  # a shell redirect is not an argument
    command, name = cli, "mobilekit"
    while isinstance(command, click.Group):
        name, args = args[0], args[1:]
        command = command.get_command(None, name)
        assert command is not None, f"no command {name!r}"
    command.make_context(name, args)


def _is_training(argv):
    return "--train" in argv or "sample_models/recipes/digits.toml" in argv


def _every_example():
    for words, _ in [([], cli), *_all_commands()]:
        yield from _examples(words)


@pytest.mark.parametrize("argv", list(_every_example()), ids=" ".join)
def test_every_help_example_parses(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_models").symlink_to(REPO / "sample_models")
    _parse(argv)


def test_help_examples_run_end_to_end(tmp_path, monkeypatch):
    """The sample_models-based examples of convert ... report, run in order in a scratch folder.

    Fine-tuning examples (--train, the digits recipe) only parse here: they train for tens of
    seconds; tests/test_optimize_cli.py and tests/test_sweep.py run those paths on tiny models."""
    import glob
    import json
    import socket

    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:  # no adb server and no phone: bench's `auto` means this computer
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(probe.getsockname()[1]))
    (tmp_path / "sample_models").symlink_to(REPO / "sample_models")
    (tmp_path / "images").mkdir()  # `--calibration images/`: a folder of pictures
    with np.load(REPO / "sample_models" / "digits_calibration.npz", allow_pickle=False) as archive:
        for index, image in enumerate(archive["x"][:16]):
            Image.fromarray((image[..., 0] * 255).astype(np.uint8)).save(tmp_path / "images" / f"{index}.png")

    ran = []
    for words in EXAMPLE_ORDER:
        for argv in _examples(words):
            if _is_training(argv) or argv[0] in DEVICE_COMMANDS or "--all-devices" in argv:
                continue
            argv = [PLACEHOLDERS.get(arg, arg) for arg in argv]
            redirect = None
            if ">" in argv:
                argv, redirect = argv[:argv.index(">")], argv[argv.index(">") + 1]
            argv = [match for arg in argv for match in (sorted(glob.glob(arg)) if "*" in arg else [arg])]
            result = CliRunner().invoke(cli, argv, catch_exceptions=False)
            shown = "mobilekit " + " ".join(argv)
            assert result.exit_code == 0, f"{shown}\n{result.output[-2000:]}"
            if redirect:
                (tmp_path / redirect).write_text(result.stdout)
                assert json.loads(result.stdout), shown
            if "-o" in argv:
                written = tmp_path / argv[argv.index("-o") + 1]
                assert written.exists() and (written.is_dir() or written.stat().st_size > 0), shown
            if "--json" in argv:
                json.loads(result.stdout)
            ran.append(argv[0])
    assert {"convert", "inspect", "evaluate", "bench", "report", "compare", "sweep"} <= set(ran)
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "sweep_out" / "report.html").exists()
    assert len((tmp_path / "runs.csv").read_text().splitlines()) == 3  # header + two thread counts


def test_device_help_examples_say_no_device(tmp_path, monkeypatch, tiny_tflite_path):
    """Without a phone the device examples end in one clear line (exit 1), or list nothing."""
    import shutil
    import socket

    from mobilekit.device.discovery import attached_serials

    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(probe.getsockname()[1]))
    if attached_serials():
        pytest.skip("a phone is attached over USB; these examples would use it")
    (tmp_path / "out").mkdir()
    shutil.copy(tiny_tflite_path, tmp_path / PLACEHOLDERS["model.tflite"])
    examples = [argv for words in (["bench"], ["devices"], ["app"], ["app", "install"], ["app", "check"])
                for argv in _examples(words)
                if argv[0] in DEVICE_COMMANDS or "--all-devices" in argv]
    assert len(examples) >= 8
    for argv in examples:
        if "--connect" in argv:
            continue  # a TCP connect to a made-up address: parsed above, not run
        argv = [PLACEHOLDERS.get(arg, arg) for arg in argv]
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        shown = "mobilekit " + " ".join(argv)
        if argv[0] == "devices":
            assert result.exit_code == 0, shown
            assert "No Android device attached" in result.stdout or result.stdout.strip() == "[]", shown
            continue
        assert result.exit_code == 1, f"{shown}\n{result.output}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), f"{shown}\n{result.stderr}"
        assert "no Android device attached" in lines[0] or "(attached: none)" in lines[0], lines[0]


def test_errors_are_one_terminal_safe_line_whatever_they_quote(tmp_path):
    # A name with a line break and an escape sequence (as a file name or a phone's output can
    # hold) must neither split the error nor reach the terminal raw.
    hostile = str(tmp_path / "model\n\x1b]0;owned\x07\x1b[2J.tflite")
    result = CliRunner().invoke(cli, ["inspect", hostile])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "inspect", hostile], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "\x1b" not in proc.stderr
