"""The records optimization produces and convert takes: per kernel, per step, the .tflite
read-back, and the whole ``OptimizeRecord``. Plain dataclasses; ``OptimizeRecord.from_dict`` reads
the dict form (a model card's ``optimization``) back strictly."""
from __future__ import annotations

import dataclasses

from .._compat import ToolVersions
from ..errors import ProtocolError


@dataclasses.dataclass
class KernelStats:
    """One kernel as measured after a step (or read back from a .tflite)."""

    layer: str
    shape: list
    sparsity: float  # fraction of exact zeros
    unique_values: int  # distinct stored values in the whole kernel
    max_unique_per_channel: int  # distinct values in the worst output channel
    pattern_2_4: bool  # every 4 consecutive input-channel values hold at least 2 zeros


@dataclasses.dataclass
class StepRecord:
    """What one step did, how long it took, and what was checked afterwards."""

    step: str  # distill | prune | cluster | qat | strip
    params: dict
    wall_time_s: float
    epochs_run: int = 0
    val_accuracy: float | None = None
    train_loss: float | None = None
    kernels: list = dataclasses.field(default_factory=list)  # KernelStats of the layers it touched
    checks: list = dataclasses.field(default_factory=list)  # human-readable verified claims
    notes: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TfliteKernel(KernelStats):
    """A kernel as stored in the .tflite: its tensor, op and dtype besides the measurements."""

    tensor: str = ""
    op: str = ""
    dtype: str = ""


@dataclasses.dataclass
class TfliteVerification:
    """What was read back from the .tflite and which claims it confirmed."""

    model_path: str
    kernels: list  # TfliteKernel
    checks: list
    passed: bool
    failures: list


@dataclasses.dataclass
class OptimizeRecord:
    """The whole optimization: settings, every step's record, the accuracy it ended with and, once
    converted, what the .tflite was found to hold."""

    steps: list  # StepRecord per step run, in order
    settings: dict
    train_samples: int
    val_samples: int | None
    baseline_val_accuracy: float | None
    final_val_accuracy: float | None
    wall_time_s: float
    quantize: str | None = None  # the conversion planned after it, when known
    notes: list = dataclasses.field(default_factory=list)
    tool_versions: ToolVersions | None = None
    tflite_verification: TfliteVerification | None = None  # set by convert

    def step(self, name: str) -> StepRecord | None:
        return next((step for step in self.steps if step.step == name), None)

    @property
    def pruned_for_latency(self) -> bool:
        """Pruned for XNNPACK's sparse path: convert then stores the kernels sparse."""
        step = self.step("prune")
        return bool(step is not None and step.params.get("for_latency"))

    def tflite_targets(self) -> dict:
        """What the .tflite must hold, as ``verification.verify_tflite`` keyword arguments."""
        prune, cluster, qat = self.step("prune"), self.step("cluster"), self.step("qat")
        return {
            # layers QAT split in two (a SeparableConv2D), by the names the .tflite carries
            "layer_aliases": dict(qat.params.get("split_layers") or {}) if qat else {},
            "sparsity": prune.params["sparsity"] if prune else None,
            "structure": prune.params["structure"] if prune else None,
            "pruned_layers": prune.params["layers"] if prune else None,
            "clusters": cluster.params["clusters"] if cluster else None,
            "clustered_layers": cluster.params["layers"] if cluster else None,
            "zero_extra": bool(cluster and cluster.params["preserve_sparsity"]),
        }

    def as_dict(self) -> dict:
        from ..records import to_dict

        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OptimizeRecord:
        """The record from its dict form; unknown or missing fields are a ProtocolError."""
        data = dict(data)
        data["steps"] = [_strict(StepRecord, dict(step, kernels=[
            _strict(KernelStats, kernel, "a step's kernel") for kernel in step.get("kernels", [])]),
            "an optimization step") for step in _list(data.get("steps"), "steps")]
        if data.get("tool_versions") is not None:
            data["tool_versions"] = _strict(ToolVersions, data["tool_versions"], "tool_versions")
        verification = data.get("tflite_verification")
        if verification is not None:
            data["tflite_verification"] = _strict(TfliteVerification, dict(verification, kernels=[
                _strict(TfliteKernel, kernel, "a .tflite kernel")
                for kernel in verification.get("kernels", [])]), "tflite_verification")
        return _strict(cls, data, "the optimization record")


def _list(value, where):
    if not isinstance(value, list):
        raise ProtocolError(f"{where} of the optimization record must be a list, "
                            f"got {type(value).__name__}")
    return value


def _strict(cls, data, where):
    from ..records import from_dict

    if not isinstance(data, dict):
        raise ProtocolError(f"{where} must be a dict, got {type(data).__name__}")
    try:
        return from_dict(cls, data, where=where)
    except TypeError as exc:  # a required field missing
        raise ProtocolError(f"{where} is incomplete: {exc}") from None
