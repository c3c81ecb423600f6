"""Report plots as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no global backend).

matplotlib is imported inside each function so `mobilekit --help` and the CSV path never pay for it.
"""
from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np

DPI = 100


def _plain(text: str) -> str:
    # Model names are user text: a "$" would switch matplotlib into mathtext and can fail to parse.
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def latency_distribution_png(run) -> bytes:
    """Histogram and empirical CDF of one configuration's timed samples, with p50/p90/p99 marked."""
    samples_ms = np.asarray(run.result.timing.samples_ns, dtype=np.float64) / 1e6
    latency = run.latency
    figure = _figure(9.0, 3.2)
    hist_axes, cdf_axes = figure.subplots(1, 2)
    bins = min(50, max(5, int(np.sqrt(samples_ms.size)) * 2))
    hist_axes.hist(samples_ms, bins=bins, color="#4c72b0", edgecolor="white", linewidth=0.5)
    hist_axes.set_xlabel("latency (ms)")
    hist_axes.set_ylabel("runs")
    hist_axes.set_title("histogram", fontsize=10)
    ordered = np.sort(samples_ms)
    fraction = np.arange(1, ordered.size + 1) / ordered.size
    cdf_axes.step(ordered, fraction, where="post", color="#4c72b0")
    cdf_axes.set_xlabel("latency (ms)")
    cdf_axes.set_ylabel("fraction of runs at or below")
    cdf_axes.set_ylim(0, 1.02)
    cdf_axes.set_title("cumulative distribution", fontsize=10)
    for key, colour in (("p50", "#dd8452"), ("p90", "#55a868"), ("p99", "#c44e52")):
        value = latency[f"latency_ms_{key}"]
        for axes in (hist_axes, cdf_axes):
            axes.axvline(value, color=colour, linestyle="--", linewidth=1,
                         label=f"{key} {value:.4g} ms" if axes is cdf_axes else None)
    cdf_axes.legend(fontsize=8, loc="lower right")
    for axes in (hist_axes, cdf_axes):
        axes.grid(alpha=0.3)
    figure.suptitle(_plain(run.config_label), fontsize=10)
    return _png(figure)


def median_errorbars_png(runs) -> bytes:
    """Median latency with its bootstrap confidence interval against thread count, one line per
    model, target and delegate."""
    series: OrderedDict[tuple, list] = OrderedDict()
    for run in runs:
        series.setdefault((run.model_name, run.target, run.delegate), []).append(run)
    figure = _figure(8.0, 4.0)
    axes = figure.subplots()
    all_threads = sorted({run.threads for run in runs})
    # Spread overlapping series a little so their error bars stay readable.
    spread = 0.08 * (len(series) - 1)
    for index, ((model, target, delegate), members) in enumerate(series.items()):
        members = sorted(members, key=lambda run: run.threads)
        offset = (index * 0.08 - spread / 2) if len(series) > 1 else 0.0
        x = np.array([run.threads for run in members], dtype=float) + offset
        medians = np.array([run.latency["latency_ms_p50"] for run in members])
        low = np.array([run.latency["latency_ms_p50_ci_low"] for run in members])
        high = np.array([run.latency["latency_ms_p50_ci_high"] for run in members])
        errors = np.vstack([np.maximum(medians - low, 0), np.maximum(high - medians, 0)])
        axes.errorbar(x, medians, yerr=errors, marker="o", capsize=4, linewidth=1.2,
                      label=_plain(f"{model} | {target} | {delegate}"))
    axes.set_xticks(all_threads)
    axes.set_xlim(min(all_threads) - 0.6, max(all_threads) + 0.6)
    axes.set_xlabel("threads")
    axes.set_ylabel("median latency (ms), 95% bootstrap CI")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    axes.set_title("median latency per delegate and thread count", fontsize=10)
    return _png(figure)


def _annotate_without_overlap(figure, axes, points, *, line_pt: float = 10.0) -> None:
    """Label each point; labels that would land on an earlier one move up a line.

    Variants of similar size and speed (dynamic and int8, say) otherwise print on top of each
    other. Works in display space, so it holds whatever the axes' scales.
    """
    to_points = 72.0 / figure.dpi
    placed = []  # (x, y) of label anchors in points
    order = sorted(points, key=lambda p: (p.model_size_bytes, p.latency_ms))
    for point in order:
        label = point.name if point.accuracy_top1 is None else \
            f"{point.name} ({point.accuracy_top1 * 100:.1f}%)"
        if point.flagged:
            label += " [flagged: not on the front]"
        x_px, y_px = axes.transData.transform((point.model_size_bytes / 1024, point.latency_ms))
        x_pt, y_pt = x_px * to_points, y_px * to_points
        lift = 6.0
        width_pt = 5.0 * len(label)  # about 5 pt a character at font size 8
        while any(abs(x_pt - other_x) < width_pt and abs(y_pt + lift - other_y) < line_pt
                  for other_x, other_y in placed):
            lift += line_pt
        placed.append((x_pt, y_pt + lift))
        axes.annotate(_plain(label), (point.model_size_bytes / 1024, point.latency_ms),
                      textcoords="offset points", xytext=(7, lift), fontsize=8,
                      arrowprops=None if lift == 6.0 else {"arrowstyle": "-", "color": "0.6", "lw": 0.6})


def pareto_png(points) -> bytes:
    """Size (x) against latency (y), accuracy as colour and label, the Pareto front highlighted."""
    figure = _figure(8.0, 5.0)
    axes = figure.subplots()
    sizes_kib = np.array([p.model_size_bytes / 1024 for p in points])
    latencies = np.array([p.latency_ms for p in points])
    accuracies = [p.accuracy_top1 for p in points]
    known = all(a is not None for a in accuracies)
    front = sorted((p for p in points if p.on_front), key=lambda p: (p.model_size_bytes, p.latency_ms))
    if front:
        axes.plot([p.model_size_bytes / 1024 for p in front], [p.latency_ms for p in front],
                  color="#c44e52", linewidth=1.2, linestyle="-", zorder=1, label="Pareto front")
        axes.scatter([p.model_size_bytes / 1024 for p in front], [p.latency_ms for p in front],
                     s=260, facecolors="none", edgecolors="#c44e52", linewidths=2, zorder=3)
    if known:
        percent = [a * 100 for a in accuracies]
        # Equal accuracies would give matplotlib an empty colour range it pads to nonsense (>100%).
        pad = max(0.5, 0.05 * (max(percent) - min(percent)))
        scatter = axes.scatter(sizes_kib, latencies, c=percent, cmap="viridis",
                               vmin=max(0.0, min(percent) - pad), vmax=min(100.0, max(percent) + pad),
                               s=90, edgecolors="black", linewidths=0.5, zorder=2)
        colourbar = figure.colorbar(scatter, ax=axes)
        colourbar.set_label("top-1 accuracy (%)")
    else:
        axes.scatter(sizes_kib, latencies, color="#4c72b0", s=90, edgecolors="black",
                     linewidths=0.5, zorder=2)
    axes.set_xlim(left=0, right=max(sizes_kib) * 1.25 if len(sizes_kib) else 1)
    axes.set_ylim(bottom=0, top=max(latencies) * 1.25 if len(latencies) else 1)
    _annotate_without_overlap(figure, axes, points)
    axes.set_xlabel("model size (KiB)")
    axes.set_ylabel("median latency (ms)")
    axes.grid(alpha=0.3)
    if front:
        axes.legend(fontsize=8, loc="lower right")
    title = "size / latency / accuracy" if known else "size / latency"
    axes.set_title(f"{title} (front: nothing else is smaller, faster{' and as accurate' if known else ''})",
                   fontsize=10)
    return _png(figure)
