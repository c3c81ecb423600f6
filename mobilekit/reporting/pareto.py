"""Pareto front of models over size, latency and (when every model has it) accuracy, drawn only
among the variants of one source model."""
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
    source_name: str | None = None
    flagged: bool = False  # measured only by flagged runs (throttled, warm): shown, never on the front
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
    eligible = [p for p in points if not p.flagged and not p.over_budget]
    for point in points:
        point.on_front = not point.flagged and not point.over_budget and not any(
            _dominates(other, point, use_accuracy) for other in eligible if other is not point)
    return [p for p in points if p.on_front]


# ---------------------------------------------------------------------------------------------
# fronts among the variants of one source model


@dataclass
class ParetoGroup:
    """The models made from one source model, and the latency their comparison uses."""

    source: str
    source_name: str
    points: list[ParetoPoint]
    basis: str


NO_GROUPING = ("no two models share a known source model, so there is no Pareto front to draw: a "
               "front compares variants of one model (a sweep's variants, or .tflite files whose "
               "model cards name the same source)")


def model_points(runs) -> tuple[list[ParetoPoint], str]:
    """One point per model (by sha256), and a sentence saying which latency each point uses.

    Models are compared at a configuration they all ran when there is one (the same target,
    delegate and threads), because comparing one model's 4-thread latency with another's 1-thread
    latency says nothing about the models; otherwise each model's fastest configuration is used.
    """
    by_model: dict[str, list] = {}
    for run in runs:
        if run.ok and run.model_size_bytes is not None:
            by_model.setdefault(run.result.model.sha256 or run.model_name, []).append(run)
    if not by_model:
        return [], ""
    config_sets = [{(r.target, r.delegate, r.threads) for r in members} for members in by_model.values()]
    shared = sorted(set.intersection(*config_sets))
    if shared:
        target, delegate, threads = shared[0]
        basis = (f"median latency on {target}, {delegate}, {threads} thread"
                 f"{'' if threads == 1 else 's'} (a configuration every model ran)")
    else:
        basis = "each model's fastest configuration (no configuration was run by every model)"
    points = []
    for members in by_model.values():
        chosen = [r for r in members if (r.target, r.delegate, r.threads) == shared[0]] if shared else members
        # a flagged run (throttled, warm) measures the heat: use a clean one wherever there is one
        clean = [r for r in chosen if not r.result.flags]
        best = min(clean or chosen, key=lambda r: r.latency["latency_ms_p50"])
        points.append(ParetoPoint(
            name=members[0].model_name, model_size_bytes=float(best.model_size_bytes),
            latency_ms=best.latency["latency_ms_p50"],
            accuracy_top1=next((r.accuracy_top1 for r in members if r.accuracy_top1 is not None), None),
            description=next((r.description for r in members if r.description), None),
            source_name=members[0].source_name, flagged=not clean,
            over_budget=any(r.over_budget for r in members)))
    if any(point.flagged for point in points):
        basis += "; models measured only by flagged runs are marked and left off the front"
    return points, basis


def pareto_groups(runs) -> tuple[list[ParetoGroup], list[str]]:
    """A front for each source model with two or more benchmarked variants, and the names of the
    models that have no such group (no known source, or the only one of theirs)."""
    by_source: dict[str, list] = {}
    for run in runs:
        if run.source is not None:
            by_source.setdefault(run.source, []).append(run)
    groups = []
    for source, members in by_source.items():
        points, basis = model_points(members)
        if len(points) >= 2:
            pareto_front(points)
            groups.append(ParetoGroup(source=source, source_name=members[0].source_name or source,
                                      points=points, basis=basis))
    grouped = {p.name for group in groups for p in group.points}
    alone = sorted({run.model_name for run in runs if run.ok and run.model_name not in grouped})
    groups.sort(key=lambda group: group.source_name)
    return groups, alone
