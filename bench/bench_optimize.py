"""Optimization variants of both sample models: size, gzip size, top-1 on the eval split and host
latency (LiteRT + XNNPACK, median at 1 and 2 threads), as ratios against the float32 variant of
the same run; plus a --prune-for-latency float32 MobileNetV2 against its dense twin.

Run: .venv/bin/python bench/bench_optimize.py [--models digits,mobilenetv2] [--quick]
Writes bench/out/optimize/{results.json,table.md} and the .tflite files beside them.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mobilekit._io import write_json_atomic, write_text_atomic  # noqa: E402

SAMPLES = REPO / "sample_models"
MODELS = {
    "digits": {"model": SAMPLES / "digits_cnn.keras", "recipe": SAMPLES / "recipes" / "digits.toml",
               "eval": SAMPLES / "digits_eval.npz"},
    "mobilenetv2": {"model": SAMPLES / "mobilenetv2_035_96.keras",
                    "recipe": SAMPLES / "recipes" / "mobilenetv2.toml",
                    "eval": SAMPLES / "shapes_eval.npz"},
}


def latency_ms(paths, *, threads: int, runs: int, warmup: int = 10) -> dict:
    """Median invoke time per model, the models' runs interleaved so machine noise hits all alike."""
    from mobilekit._compat import make_interpreter

    interpreters = {}
    for path in paths:
        interpreter = make_interpreter(model_path=path, num_threads=threads)
        interpreter.allocate_tensors()
        rng = np.random.default_rng(0)
        for detail in interpreter.get_input_details():
            if np.dtype(detail["dtype"]).kind == "f":
                value = rng.uniform(-1, 1, detail["shape"]).astype(detail["dtype"])
            else:
                value = rng.integers(-128, 127, detail["shape"]).astype(detail["dtype"])
            interpreter.set_tensor(detail["index"], value)
        for _ in range(warmup):
            interpreter.invoke()
        interpreters[path] = interpreter
    samples = {path: [] for path in paths}
    for _ in range(runs):
        for path, interpreter in interpreters.items():
            started = time.perf_counter_ns()
            interpreter.invoke()
            samples[path].append(time.perf_counter_ns() - started)
    return {path: float(np.median(values)) / 1e6 for path, values in samples.items()}


def produce(name, spec, variant, out_dir: Path, train_override=None, epochs_override=None):
    """The variant's .tflite (optimized first when it asks) -> ConvertResult."""
    from mobilekit.conversion.optimized import convert_variant

    return convert_variant(spec["model"], variant, out_dir / f"{name}_{variant.name}.tflite",
                           train=train_override, epochs=epochs_override, verbose=1)


def latency_ready_mobilenetv2(model):
    """The sample MobileNetV2 rewritten so TF-MOT's PruneForLatencyOnXNNPack accepts it.

    tf_keras's MobileNetV2 pads 'same' on its first conv and asymmetrically ((0,1),(0,1)) before
    stride-2 depthwise convs, and pools without keepdims; XNNPACK's sparse subgraph wants explicit
    symmetric padding of 1 and a spatial MEAN. Output sizes stay the same, weights are copied.
    """
    from mobilekit._compat import keras

    k = keras()
    config = copy.deepcopy(model.get_config())
    layers = []
    for layer in config["layers"]:
        if layer["class_name"] == "ZeroPadding2D":
            layer["config"]["padding"] = ((1, 1), (1, 1))
        if layer["name"] == "Conv1":
            layer["config"]["padding"] = "valid"
            layers.append({"class_name": "ZeroPadding2D", "name": "Conv1_pad",
                           "config": {"name": "Conv1_pad", "padding": ((1, 1), (1, 1)),
                                      "trainable": True, "dtype": "float32",
                                      "data_format": "channels_last"},
                           "inbound_nodes": copy.deepcopy(layer["inbound_nodes"])})
            layer["inbound_nodes"] = [[["Conv1_pad", 0, 0, {}]]]
        if layer["class_name"] == "GlobalAveragePooling2D":
            layer["config"]["keepdims"] = True
            layers.append(layer)
            layers.append({"class_name": "Flatten", "name": "pool_flatten",
                           "config": {"name": "pool_flatten", "trainable": True, "dtype": "float32",
                                      "data_format": "channels_last"},
                           "inbound_nodes": [[[layer["name"], 0, 0, {}]]]})
            continue
        if layer["name"] == "predictions":
            layer["inbound_nodes"] = [[["pool_flatten", 0, 0, {}]]]
        layers.append(layer)
    config["layers"] = layers
    twin = k.Model.from_config(config)
    for layer in model.layers:
        if layer.get_weights():
            twin.get_layer(layer.name).set_weights(layer.get_weights())
    return twin


def sparse_latency(out_dir: Path, *, train_samples: int, epochs: int, runs: int, sparsity: float):
    """--prune-for-latency float32 MobileNetV2 (weights stored sparse) vs its dense twin."""
    from mobilekit._compat import keras, tf
    from mobilekit.analysis.evaluation import evaluate
    from mobilekit.optimization import FitSettings, prune, strip_pruning
    from mobilekit.optimization.verification import verify_tflite

    k = keras()
    dense = latency_ready_mobilenetv2(k.models.load_model(MODELS["mobilenetv2"]["model"]))
    with np.load(SAMPLES / "shapes_train.npz", allow_pickle=False) as data:
        x, y = data["x"][:train_samples], data["y"][:train_samples]
    with np.load(SAMPLES / "shapes_val.npz", allow_pickle=False) as data:
        val = (data["x"], data["y"])
    pruned, record = prune(dense, (x, y), val=val, sparsity=sparsity, for_latency=True,
                           settings=FitSettings(epochs=epochs, learning_rate=2e-4, verbose=1))
    sparse_model = strip_pruning(pruned)

    def write(model, path, sparse):
        converter = tf().lite.TFLiteConverter.from_keras_model(model)
        if sparse:
            # Store the pruned 1x1 kernels sparse (DENSIFY): what XNNPACK's sparse path reads.
            converter.optimizations = [tf().lite.Optimize.EXPERIMENTAL_SPARSITY]
        path.write_bytes(converter.convert())
        return str(path)

    dense_path = write(dense, out_dir / "mobilenetv2_latency_dense.tflite", False)
    sparse_path = write(sparse_model, out_dir / "mobilenetv2_latency_sparse.tflite", True)
    check = verify_tflite(sparse_path, sparsity=sparsity, pruned_layers=record.params["layers"])
    result = {"sparsity": sparsity, "pruned_1x1_convs": len(record.params["layers"]),
              "tflite_checks": check.checks, "tflite_failures": check.failures,
              "top1_dense": evaluate(dense_path, str(MODELS["mobilenetv2"]["eval"])).top1,
              "top1_sparse": evaluate(sparse_path, str(MODELS["mobilenetv2"]["eval"])).top1}
    for threads in (1, 2):
        medians = latency_ms([dense_path, sparse_path], threads=threads, runs=runs)
        result[f"dense_ms_t{threads}"] = medians[dense_path]
        result[f"sparse_ms_t{threads}"] = medians[sparse_path]
        result[f"ratio_t{threads}"] = medians[sparse_path] / medians[dense_path]
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="digits,mobilenetv2")
    parser.add_argument("--variants", help="comma-separated variant names (fp32 always runs)")
    parser.add_argument("--runs", type=int, default=200, help="timed invocations per model")
    parser.add_argument("--mnv2-train-samples", type=int, default=400,
                        help="MobileNetV2 fine-tuning subset (2 CPU cores: keep it small)")
    parser.add_argument("--mnv2-epochs", type=int, default=1)
    parser.add_argument("--no-sparse-latency", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer runs and samples")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "optimize")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.mnv2_train_samples = 50, 160
    args.out.mkdir(parents=True, exist_ok=True)

    from mobilekit.analysis.evaluation import evaluate
    from mobilekit.optimization.recipe import load_recipe

    wanted = set(args.variants.split(",")) if args.variants else None
    results = {"models": {}, "runs": args.runs}
    for name in args.models.split(","):
        spec = MODELS[name]
        recipe = load_recipe(spec["recipe"])
        train_override = epochs_override = None
        if name == "mobilenetv2":
            with np.load(SAMPLES / "shapes_train.npz", allow_pickle=False) as data:
                subset = args.out / "shapes_train_subset.npz"
                np.savez(subset, x=data["x"][:args.mnv2_train_samples],
                         y=data["y"][:args.mnv2_train_samples])
            train_override, epochs_override = str(subset), args.mnv2_epochs
        rows = []
        for variant in recipe.variants:
            if wanted and variant.name != "fp32" and variant.name not in wanted:
                continue
            print(f"== {name} {variant.name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            converted = produce(name, spec, variant, args.out, train_override, epochs_override)
            rows.append({"variant": variant.name, "path": converted.output_path,
                         "size_bytes": converted.model_size_bytes,
                         "gzip_bytes": converted.model_size_gzip_bytes,
                         "top1": evaluate(converted.output_path, str(spec["eval"])).top1,
                         "produce_s": round(time.perf_counter() - started, 1)})
        for threads in (1, 2):
            medians = latency_ms([row["path"] for row in rows], threads=threads, runs=args.runs)
            for row in rows:
                row[f"latency_ms_p50_t{threads}"] = medians[row["path"]]
        base = rows[0]
        for row in rows:
            row["gzip_ratio"] = base["gzip_bytes"] / row["gzip_bytes"]
            row["top1_delta_points"] = 100 * (row["top1"] - base["top1"])
            for threads in (1, 2):
                row[f"latency_ratio_t{threads}"] = (row[f"latency_ms_p50_t{threads}"]
                                                    / base[f"latency_ms_p50_t{threads}"])
        results["models"][name] = {"rows": rows, "train_samples": args.mnv2_train_samples
                                   if name == "mobilenetv2" else None,
                                   "epochs_override": epochs_override}
        write_json_atomic(args.out / "results.json", results)
    if "mobilenetv2" in args.models.split(",") and not args.no_sparse_latency:
        print("== mobilenetv2 prune-for-latency vs dense twin", file=sys.stderr, flush=True)
        results["sparse_latency"] = sparse_latency(args.out, train_samples=args.mnv2_train_samples,
                                                   epochs=args.mnv2_epochs, runs=args.runs * 2,
                                                   sparsity=0.8)
        write_json_atomic(args.out / "results.json", results)

    lines = []
    for name, model in results["models"].items():
        lines += [f"## {name}" + (f" (fine-tuned on {model['train_samples']} samples, "
                                  f"{model['epochs_override']} epoch(s) per step)"
                                  if model["train_samples"] else ""), "",
                  "| variant | size B | gzip B | gzip x | top-1 | d pts | p50 ms 1t | p50 ms 2t | "
                  "lat x 1t | lat x 2t |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in model["rows"]:
            lines.append(
                f"| {row['variant']} | {row['size_bytes']:,} | {row['gzip_bytes']:,} | "
                f"{row['gzip_ratio']:.2f} | {row['top1']:.4f} | {row['top1_delta_points']:+.2f} | "
                f"{row['latency_ms_p50_t1']:.3f} | {row['latency_ms_p50_t2']:.3f} | "
                f"{row['latency_ratio_t1']:.2f} | {row['latency_ratio_t2']:.2f} |")
        lines.append("")
    sparse = results.get("sparse_latency")
    if sparse:
        lines += ["## MobileNetV2 --prune-for-latency (float32, 80% zeros in "
                  f"{sparse['pruned_1x1_convs']} 1x1 convs, stored sparse) vs dense twin", "",
                  "| threads | dense p50 ms | sparse p50 ms | sparse / dense (goal <= 0.8) |",
                  "|---:|---:|---:|---:|"]
        for threads in (1, 2):
            lines.append(f"| {threads} | {sparse[f'dense_ms_t{threads}']:.3f} | "
                         f"{sparse[f'sparse_ms_t{threads}']:.3f} | {sparse[f'ratio_t{threads}']:.2f} |")
        lines += ["", f"top-1 dense {sparse['top1_dense']:.4f}, sparse {sparse['top1_sparse']:.4f}; "
                  f"read back: {'; '.join(sparse['tflite_checks'] + sparse['tflite_failures'])}"]
    table = "\n".join(lines)
    write_text_atomic(args.out / "table.md", table + "\n")
    print(table)


if __name__ == "__main__":
    main()
