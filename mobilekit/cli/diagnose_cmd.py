"""`mobilekit diagnose`: which layers an int8 model loses its accuracy in, and what keeping them
float would buy."""
from __future__ import annotations

from pathlib import Path

import click

from ..analysis.diagnosis import DEFAULT_WHAT_IF
from ..data.loaders import NORMALIZE_CHOICES
from ._common import echo_json, run_command


@click.command("diagnose")
@click.argument("model", metavar="MODEL")
@click.option("--calibration", required=True, metavar="DATA",
              help="Representative inputs for int8 calibration (as for convert); the errors are "
                   "measured on them.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=None, metavar="N",
              help="Use the first N calibration samples [default: 200].")
@click.option("--data", metavar="DATA",
              help="Labelled data (.npz with x, y, or an image folder; for several inputs an "
                   ".npz with one array per input, named after it, and y): adds float and int8 "
                   "top-1 and the what-if for the worst layers.")
@click.option("--what-if", "what_if", type=click.IntRange(min=0), default=DEFAULT_WHAT_IF,
              show_default=True, metavar="K",
              help="With --data: top-1 with each of the worst K layers kept float, alone and "
                   "cumulatively.")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Score only the first N labelled samples.")
@click.option("--normalize", type=click.Choice(NORMALIZE_CHOICES), default=None,
              help="Image folders only: pixel scaling (default 0-1).")
@click.option("--plot", "plot_path", metavar="OUT.png", help="Write the per-layer bar chart.")
@click.option("--html", "html_path", metavar="OUT.html",
              help="Write a page with the tables and the per-layer chart.")
@click.option("--output", "json_path", metavar="OUT.json", help="Write the result as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@run_command
def diagnose_command(model, calibration, calibration_samples, data, what_if, limit, normalize,
                     plot_path, html_path, json_path, as_json):
    """Rank the layers of a Keras model by the error full-int8 quantization adds to each.

    For every quantized op: the Keras layer it comes from, op type, RMSE in quantization steps,
    max and mean absolute error, SNR in dB, scale and zero point; each op is fed the same
    quantized input as its float twin, so a layer's figure is its own. With --data, also top-1
    with the worst layers kept float (apply it with convert --keep-float).

    \b
    Example:
      mobilekit diagnose sample_models/outliers_mlp.keras \\
          --calibration sample_models/digits_calibration.npz \\
          --data sample_models/digits_val.npz --plot layers.png --output diagnosis.json
      mobilekit convert sample_models/outliers_mlp.keras -o mixed.tflite --quantize int8 \\
          --calibration sample_models/digits_calibration.npz --keep-float hidden
    """
    from .._io import write_bytes_atomic, write_json_atomic
    from ..analysis.diagnosis import diagnose, format_diagnosis
    from ..errors import UsageError
    from ..records import to_dict

    for given in (plot_path, html_path, json_path):
        if given and Path(given).resolve() in {Path(p).resolve() for p in (model, calibration, data)
                                                if p}:
            raise UsageError(f"{given} is an input of this command; choose another output name")
    result = diagnose(model, calibration, data=data, calibration_samples=calibration_samples,
                      normalize=normalize, what_if=what_if, limit=limit)
    if plot_path or html_path:
        from ..reporting.diagnosis import layer_error_png, render_diagnosis_html

        chart = layer_error_png(to_dict(result))
        if plot_path:
            write_bytes_atomic(Path(plot_path), chart)
        if html_path:
            render_diagnosis_html(result, Path(html_path), chart_png=chart)
    if json_path:
        from ..reporting.diagnosis import DIAGNOSIS_SCHEMA

        write_json_atomic(Path(json_path), {"schema": DIAGNOSIS_SCHEMA, **to_dict(result)})
    if as_json:
        echo_json(result)
    else:
        click.echo(format_diagnosis(result))
        for given in (plot_path, html_path, json_path):
            if given:
                click.echo(f"Wrote {given}")
