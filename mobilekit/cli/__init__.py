"""The `mobilekit` command line: a lazy click group, so `--help` never imports TensorFlow.

Each command lives in its own module and is loaded only when it runs or its help is asked for.
Commands are thin: parse, call the library, let `run_command` map library errors to one line and
an exit code.
"""
from __future__ import annotations

import importlib

import click

from .._version import __version__

# command name -> (module, attribute). Order is the order `--help` lists them in.
COMMANDS = {
    "convert": ("mobilekit.cli.convert_cmd", "convert_command"),
    "inspect": ("mobilekit.cli.inspect_cmd", "inspect_command"),
    "evaluate": ("mobilekit.cli.evaluate_cmd", "evaluate_command"),
    "diagnose": ("mobilekit.cli.diagnose_cmd", "diagnose_command"),
    "bench": ("mobilekit.cli.bench_cmd", "bench_command"),
    "report": ("mobilekit.cli.report_cmd", "report_command"),
    "compare": ("mobilekit.cli.report_cmd", "compare_command"),
    "sweep": ("mobilekit.cli.sweep_cmd", "sweep_command"),
    "devices": ("mobilekit.cli.device_cmd", "devices_command"),
    "app": ("mobilekit.cli.device_cmd", "app_group"),
}

SHORT_HELP = {
    "convert": "Convert (and optionally optimize) a Keras model to .tflite.",
    "inspect": "Show a .tflite model's tensors, ops, sparsity and GPU compatibility.",
    "evaluate": "Measure a .tflite model's accuracy, and its fidelity to the Keras model.",
    "diagnose": "Rank layers by their int8 error; what keeping them float would buy.",
    "bench": "Benchmark a .tflite model on this computer or on phones over USB.",
    "report": "Turn bench results into HTML, Markdown or CSV with plots.",
    "compare": "Compare two bench results statistically; gate CI on a budget.",
    "sweep": "Convert, evaluate and benchmark every variant of a recipe.",
    "devices": "List attached Android phones and their facts.",
    "app": "Install or check the companion Android app.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _available(name):
            return None
        module_name, attribute = COMMANDS[name]
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx, formatter):
        # Listing must not import the command modules (and TensorFlow with them).
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    module_name = COMMANDS[name][0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="mobilekit")
@click.option("--debug", is_flag=True, envvar="MOBILEKIT_DEBUG",
              help="Show full tracebacks and TensorFlow's own logs.")
@click.pass_context
def cli(ctx, debug):
    """mobilekit takes a trained Keras model to a measured Android deployment.

    \b
    Typical flow:
      mobilekit convert model.keras -o model_int8.tflite --quantize int8 --calibration calib.npz
      mobilekit evaluate model_int8.tflite --data test.npz --reference model.keras
      mobilekit bench model_int8.tflite -o results/int8   # this computer, or the attached phone
      mobilekit report results/ -o report.html

    Run `mobilekit COMMAND --help` for each command's options and examples.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        import os

        # Read by _compat before TensorFlow loads: keep its native start-up log and C++ logging.
        os.environ["MOBILEKIT_DEBUG"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def main():
    from ._common import main_entry

    main_entry(cli)
