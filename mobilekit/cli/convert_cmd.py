"""`mobilekit convert`: a Keras model to .tflite in one of five modes, with its model card."""
from __future__ import annotations

import click

from ..conversion.converter import DEFAULT_CALIBRATION_SAMPLES, IO_TYPES, QUANTIZE_MODES
from ..data.loaders import NORMALIZE_CHOICES
from ._common import echo_json, run_command
from ._optimize_options import format_optimization, optimize_options


@click.command("convert")
@click.argument("model", metavar="MODEL")
@click.option("-o", "--output", required=True, metavar="OUT.tflite",
              help="Where to write the model; the model card goes beside it as OUT.json.")
@click.option("--quantize", type=click.Choice(QUANTIZE_MODES), default="none", show_default=True,
              help="none = float32; fp16 = float16 weights; dynamic = int8 weights, float "
                   "activations; int8 = full integer (needs --calibration); int16x8 = int16 "
                   "activations, int8 weights (needs --calibration).")
@click.option("--calibration", metavar="DATA",
              help="Representative inputs for int8/int16x8: .npz (x, or a single array), .npy, "
                   "an image folder, or module:function / file.py:function returning an iterable "
                   "of arrays or a tf.data.Dataset.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=None, metavar="N",
              help=f"Use the first N calibration samples [default: {DEFAULT_CALIBRATION_SAMPLES}].")
@click.option("--io-type", type=click.Choice(IO_TYPES), default="float32", show_default=True,
              help="dtype of an int8 model's inputs and outputs (int8/uint8 for integer-only "
                   "pipelines; float32 keeps a float interface).")
@click.option("--normalize", type=click.Choice(NORMALIZE_CHOICES), default=None,
              help="Image folders only: pixel scaling. 0-1 = /255 (default), -1-1 = /127.5-1, "
                   "imagenet = ImageNet mean/std, none = raw 0..255. Arrays are used as stored.")
@click.option("--keep-float", "keep_float", metavar="LAYER[,LAYER...]|auto",
              help="int8 only: leave these Keras layers in float (see `mobilekit diagnose`), or "
                   "auto: keep the worst layers float until --max-accuracy-drop is met.")
@click.option("--max-accuracy-drop", type=click.FloatRange(min=0), default=None, metavar="PTS",
              help="The most top-1 points the model may lose against the float model "
                   "on --data (or --val); when missed, the files are written and the exit code "
                   "is 3.")
@click.option("--data", "data", metavar="DATA",
              help="Labelled data (.npz with x, y; for several inputs one array per input, "
                   "named after it, and y) for --keep-float/--max-accuracy-drop "
                   "[default: --val when optimizing].")
@click.option("--keep-float-size-cap", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="FRACTION",
              help="--keep-float auto stops before the model passes this fraction of its float32 "
                   "size [default: 1.0, never larger than float32].")
@click.option("--signature", metavar="NAME", default=None,
              help="SavedModel folders: the signature to convert [default: serving_default]; "
                   "needed when the model has several and none is serving_default.")
@click.option("--int16x8-fallback", "int16x8_fallback", is_flag=True,
              help="int16x8 only: let ops with no int16x8 kernel (e.g. PReLU) stay float32 "
                   "(TFLITE_BUILTINS fallback). Trade-off: the model converts, but those ops run "
                   "in float between QUANTIZE/DEQUANTIZE pairs (bigger, slower) and it is no "
                   "longer integer-only, so integer-only NPUs reject it. The card says so.")
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
@optimize_options
@run_command
def convert_command(model, output, quantize, calibration, calibration_samples, io_type, normalize,
                    keep_float, max_accuracy_drop, data, keep_float_size_cap, signature,
                    int16x8_fallback, as_json, optimize):
    """Convert a Keras model (.keras from Keras 2 or 3, .h5, or a SavedModel folder) to .tflite.

    Writes OUT.tflite and the model card OUT.json: source model and sha256, mode, sizes (raw and
    gzip), input/output tensors with quantization, op histogram, weight sparsity, calibration
    sample count, conversion time and tool versions.

    A model with several inputs calibrates on an .npz with one array per input, each named
    after its input (the Keras Input name, or the SavedModel signature key), and so does
    --keep-float/--max-accuracy-drop's --data (plus y); a SavedModel with several signatures and
    no serving_default needs --signature NAME. A model pruned for latency keeps its pruned
    kernels stored sparse with --keep-float too (the float layers' kernels as well).

    \b
    Example:
      mobilekit convert sample_models/digits_cnn.keras -o out/digits_fp32.tflite
      mobilekit convert sample_models/digits_cnn.keras -o out/digits_int8.tflite \\
          --quantize int8 --calibration sample_models/digits_calibration.npz
      mobilekit convert model.keras -o model_int8.tflite --quantize int8 \\
          --calibration images/ --normalize -1-1 --io-type uint8
      mobilekit convert sample_models/digits_cnn.keras -o out/digits_p80_qat.tflite \\
          --train sample_models/digits_train.npz --val sample_models/digits_val.npz \\
          --prune 0.8 --qat --quantize int8 --calibration sample_models/digits_calibration.npz
      mobilekit convert sample_models/outliers_mlp.keras -o out/outliers_mixed.tflite \\
          --quantize int8 --calibration sample_models/digits_calibration.npz \\
          --keep-float auto --max-accuracy-drop 1 --data sample_models/digits_val.npz
      mobilekit convert model.keras -o out/digits_int16x8.tflite --quantize int16x8 \\
          --calibration calib.npz --int16x8-fallback
    """
    from ..errors import BudgetExceeded

    selective = dict(keep_float=keep_float, max_accuracy_drop=max_accuracy_drop, data=data,
                     keep_float_size_cap=keep_float_size_cap, int16x8_fallback=int16x8_fallback)
    if signature is not None:
        if optimize:
            from ..errors import UsageError

            raise UsageError("--signature applies to converting a SavedModel as it is, not to "
                             "fine-tuning", hint="convert without the optimize options")
        selective["signature"] = signature
    try:
        result = _convert(model, output, quantize, calibration, calibration_samples, io_type,
                          normalize, optimize, selective)
    except BudgetExceeded as exc:
        # The files are written: show the card, then the one-line reason and exit 3.
        record = getattr(exc, "record", None)
        if record is not None:
            echo_json(record) if as_json else click.echo(format_convert(record), err=True)
        raise
    if as_json:
        echo_json(result)
    else:
        click.echo(format_convert(result))
        if optimize:
            click.echo(format_optimization(result.optimization))


def _convert(model, output, quantize, calibration, calibration_samples, io_type, normalize,
             optimize, selective):
    from ..conversion import convert

    recipe = click.get_current_context().meta.get("mobilekit.recipe")
    also_reads = [("recipe", recipe)] if recipe else []
    if optimize:
        # Fine-tune first (optimize options or --recipe), then convert and verify the .tflite.
        from ..conversion.optimized import optimize_and_convert

        optimize = dict(optimize)
        train, val = optimize.pop("train"), optimize.pop("val")
        if selective["data"] is None and val is not None:
            selective["data"] = val
        if selective["keep_float"] is not None or selective["max_accuracy_drop"] is not None:
            selective["accuracy_reference"] = model   # the drop is against the model given
        return optimize_and_convert(model, output, train=train, val=val, optimize=optimize,
                                    quantize=quantize, calibration=calibration,
                                    calibration_samples=calibration_samples, io_type=io_type,
                                    normalize=normalize, also_reads=also_reads, **selective).convert
    return convert(model, output, quantize=quantize, calibration=calibration,
                   calibration_samples=calibration_samples, io_type=io_type, normalize=normalize,
                   also_reads=also_reads, **selective)


def format_convert(result) -> str:
    def tensors(records):
        return "; ".join(f"{t['name']} {'x'.join(str(d) if d >= 0 else '?' for d in t['shape_signature'])} "
                         f"{t['dtype']}" + (f" (scale {t['quantization']['scale']:.4g}, zero point "
                                            f"{t['quantization']['zero_point']})"
                                            if t["quantization"] and "scale" in t["quantization"] else "")
                         for t in records)

    sparsity = result.weight_sparsity
    mode = result.quantize + (f" (io {result.io_type})" if result.quantize == "int8" else "")
    rows = [
        ("mode", mode),
        ("source", f"{result.source_model}" + (f" (sha256 {result.source_sha256[:12]})"
                                                if result.source_sha256 else "")),
        ("size", f"{result.model_size_bytes:,} bytes ({result.model_size_gzip_bytes:,} gzip)"),
        ("inputs", tensors(result.inputs)),
        ("outputs", tensors(result.outputs)),
        ("ops", ", ".join(f"{name} x{count}" for name, count in result.op_histogram.items())),
        ("weights", f"{sparsity['weights_total']:,} ({100 * sparsity['zero_fraction']:.1f}% zero)"),
    ]
    if result.int16x8_fallback:
        rows.append(("fallback", result.int16x8_fallback))
    if result.signature:
        rows.append(("signature", result.signature))
    if result.calibration_samples is not None:
        rows.append(("calibration", f"{result.calibration_samples} samples from {result.calibration_source}"))
    kept = result.accuracy_check
    if kept is not None:
        if kept["requested"] is not None:
            rows.append(("kept float", (", ".join(kept["layers"]) or "none")
                         + f" ({kept['size_cost_bytes']:+,} bytes)"))
        if kept["top1"] is not None:
            budget = kept["max_accuracy_drop"]
            all_int8 = ("" if kept["int8_top1"] is None
                        else f"all-int8 {100 * kept['int8_top1']:.2f}%, ")
            rows.append(("top-1", f"float {100 * kept['float_top1']:.2f}%, {all_int8}"
                         f"this model {100 * kept['top1']:.2f}% on {kept['samples']} samples"
                         + ("" if budget is None else
                            f" (budget {budget:g} points: {'met' if kept['met_budget'] else 'MISSED'})")))
    rows.append(("time", f"{result.conversion_time_s:.2f} s converting, {result.total_time_s:.2f} s total"))
    width = max(len(name) for name, _ in rows)
    lines = [f"Wrote {result.output_path} and its model card {result.model_card_path}"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)
