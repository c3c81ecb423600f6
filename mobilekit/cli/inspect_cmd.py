"""`mobilekit inspect`: tensors, quantization, ops, sparsity and GPU compatibility of a .tflite."""
from __future__ import annotations

import click

from ._common import echo_json, run_command


@click.command("inspect")
@click.argument("model", metavar="MODEL.tflite")
@click.option("--json", "as_json", is_flag=True, help="Print the full record (every tensor) as JSON.")
@click.option("--gpu-check/--no-gpu-check", default=True, show_default=True,
              help="Check which ops the GPU delegate would leave on the CPU.")
@click.option("--analyzer/--no-analyzer", default=True, show_default=True,
              help="Include TensorFlow's model analyzer in the GPU check (imports TensorFlow, a "
                   "few seconds; in TensorFlow 2.21 it passes every model); --no-analyzer uses only "
                   "mobilekit's GPU rules.")
@click.option("--tensors", "show_tensors", is_flag=True, help="Also list every tensor.")
@run_command
def inspect_command(model, as_json, gpu_check, analyzer, show_tensors):
    """Show what is inside a .tflite model.

    Inputs and outputs with shapes, dtypes and quantization (scale, zero point, per-channel),
    the op histogram, weight sparsity, size (raw and gzip) and GPU-delegate compatibility.

    \b
    Example:
      mobilekit inspect out/digits_int8.tflite
      mobilekit inspect out/digits_int8.tflite --no-analyzer --json > digits_int8.inspect.json
    """
    from ..analysis.inspection import format_inspect, inspect_model

    result = inspect_model(model, gpu_check=gpu_check, use_analyzer=analyzer)
    if as_json:
        echo_json(result)
        return
    click.echo(format_inspect(result))
    if show_tensors:
        click.echo("\nTensors")
        for tensor in result.tensors:
            shape = "x".join(str(d) if d >= 0 else "?" for d in tensor["shape_signature"])
            kind = "const" if tensor["constant"] else ""
            click.echo(f"  {tensor['index']:>4}  {tensor['name'][:60]:<60}  {shape:<16} "
                       f"{tensor['dtype']:<8} {kind}")
