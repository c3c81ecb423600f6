"""Pareto front of models over size, latency and (when every model has it) accuracy."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ParetoPoint:
    name: str
    model_size_bytes: float
    latency_ms: float
    accuracy_top1: float | None = None
    on_front: bool = False
    description: str | None = None
    over_budget: bool = False  # missed its accuracy budget: shown, never on the front


def _dominates(a: ParetoPoint, b: ParetoPoint, use_accuracy: bool) -> bool:
    """a is no worse than b everywhere and better somewhere (smaller, faster, more accurate)."""
    no_worse = a.model_size_bytes <= b.model_size_bytes and a.latency_ms <= b.latency_ms
    better = a.model_size_bytes < b.model_size_bytes or a.latency_ms < b.latency_ms
    if use_accuracy:
        no_worse = no_worse and a.accuracy_top1 >= b.accuracy_top1
        better = better or a.accuracy_top1 > b.accuracy_top1
    return no_worse and better


def pareto_front(points: list[ParetoPoint]) -> list[ParetoPoint]:
    """Mark and return the non-dominated points.

    Accuracy counts only when every point has it: comparing a model with a known accuracy to one
    without would make the unknown one look dominated (or dominant) for no reason.
    """
    use_accuracy = bool(points) and all(p.accuracy_top1 is not None for p in points)
    eligible = [p for p in points if not p.over_budget]
    for point in points:
        point.on_front = not point.over_budget and not any(
            _dominates(other, point, use_accuracy) for other in eligible if other is not point)
    return [p for p in points if p.on_front]
