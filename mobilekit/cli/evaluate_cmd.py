"""`mobilekit evaluate`: accuracy of a .tflite model on labelled data, and fidelity to Keras."""
from __future__ import annotations

import click

from ..data.loaders import NORMALIZE_CHOICES
from ._common import echo_json, run_command


@click.command("evaluate")
@click.argument("model", metavar="MODEL.tflite")
@click.option("--data", required=True, metavar="DATA",
              help="Labelled data: an .npz with x and y (class indices or one-hot), or an image "
                   "folder with one subfolder per class (classes in sorted name order).")
@click.option("--reference", metavar="MODEL.keras",
              help="The Keras model it came from: adds argmax agreement, max absolute error and "
                   "SNR (dB) of the dequantized outputs, for every output (paired by name, else "
                   "by shape and order, which the result then says).")
@click.option("--head", metavar="NAME", default=None,
              help="Models with several outputs: the output top-1 is computed on (default: the "
                   "first).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Evaluate only the first N samples.")
@click.option("--normalize", type=click.Choice(NORMALIZE_CHOICES), default=None,
              help="Image folders only: pixel scaling (default 0-1). Arrays are used as stored.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Rows per invoke when the model has a free batch dimension.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="LiteRT CPU threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON.")
@run_command
def evaluate_command(model, data, reference, head, limit, normalize, batch_size, threads, as_json):
    """Measure a .tflite model's top-1 (and top-5) accuracy on this computer.

    Quantized inputs and outputs are handled with the model's own scale and zero point. A model
    with several outputs is scored on each against --reference (paired by output name); --head
    names the one top-1 is computed on. A model with several inputs reads an .npz with one array
    per input, named after it, and y.

    \b
    Example:
      mobilekit evaluate out/digits_int8.tflite --data sample_models/digits_eval.npz
      mobilekit evaluate out/digits_int8.tflite --data sample_models/digits_eval.npz \\
          --reference sample_models/digits_cnn.keras --json
    """
    from ..analysis.evaluation import evaluate, format_evaluate

    result = evaluate(model, data, reference=reference, head=head, limit=limit, normalize=normalize,
                      batch_size=batch_size, num_threads=threads)
    if as_json:
        echo_json(result)
    else:
        click.echo(format_evaluate(result))
