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
    return str(text).replace("\\", "\\\\").replace("$", r"\$").replace("\r", " ")


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


def _grid(count: int) -> tuple[int, int]:
    columns = 1 if count == 1 else 2 if count <= 4 else 3 if count <= 9 else 4
    return -(-count // columns), columns


def _panel_title(text: str, width: int = 34) -> str:
    """A panel title of at most two lines: long model paths wrap instead of running into the next
    panel."""
    import textwrap

    # Break paths after a "/" rather than inside a word: "/ " gives textwrap a place to break.
    lines = [line.replace("/ ", "/") for line in
             textwrap.wrap(str(text).replace("/", "/ "), width, break_on_hyphens=False)] or [""]
    if len(lines) > 2:
        lines = [lines[0], "…" + str(text)[-(width - 1):]]
    return _plain("\n".join(lines))


def median_by_threads_figure(runs):
    """Median latency with its bootstrap confidence interval against thread count: a small panel
    per model (one line per target and delegate in it), so many models never share one legend."""
    by_model: OrderedDict[str, list] = OrderedDict()
    for run in runs:
        by_model.setdefault(run.model_name, []).append(run)
    series_names = list(dict.fromkeys(f"{run.target} | {run.delegate}" for run in runs))
    colours = {name: f"C{index % 10}" for index, name in enumerate(series_names)}
    rows, columns = _grid(len(by_model))
    figure = _figure(8.0 if columns == 1 else 12.0, 1.2 + 2.7 * rows if columns > 1 else 4.2)
    grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axes, (model, members) in zip(grid, by_model.items()):
        series: OrderedDict[str, list] = OrderedDict()
        for run in members:
            series.setdefault(f"{run.target} | {run.delegate}", []).append(run)
        spread = 0.08 * (len(series) - 1)
        threads = sorted({run.threads for run in members})
        for index, (name, group) in enumerate(series.items()):
            group = sorted(group, key=lambda run: run.threads)
            offset = index * 0.08 - spread / 2
            x = np.array([run.threads for run in group], dtype=float) + offset
            medians = np.array([run.latency["latency_ms_p50"] for run in group])
            low = np.array([run.latency["latency_ms_p50_ci_low"] for run in group])
            high = np.array([run.latency["latency_ms_p50_ci_high"] for run in group])
            errors = np.vstack([np.maximum(medians - low, 0), np.maximum(high - medians, 0)])
            axes.errorbar(x, medians, yerr=errors, marker="o", capsize=3, linewidth=1.2,
                          color=colours[name], label=_plain(name))
        axes.set_xticks(threads)
        axes.set_xlim(min(threads) - 0.6, max(threads) + 0.6)
        top = max(run.latency["latency_ms_p50_ci_high"] for run in members)
        axes.set_ylim(0, top * 1.15)  # room above the highest error bar, never cut at the frame
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=8)
        axes.set_title(_panel_title(model), fontsize=9)
    for axes in grid[len(by_model):]:
        axes.set_visible(False)
    # One legend for every panel, above them, only when it says something (several lines).
    if len(series_names) > 1:
        handles = [figure.axes[0].plot([], [], marker="o", color=colours[name])[0] for name in series_names]
        figure.legend(handles, [_plain(name) for name in series_names], loc="outside upper center",
                      ncols=min(len(series_names), 4), fontsize=8, frameon=False)
    elif series_names:
        figure.suptitle(_plain(f"median latency by thread count ({series_names[0]})"), fontsize=10)
    figure.supxlabel("threads", fontsize=9)
    figure.supylabel("median latency (ms), 95% bootstrap CI", fontsize=9)
    return figure


def median_errorbars_png(runs) -> bytes:
    return _png(median_by_threads_figure(runs))


def _boxes_overlap(a, b, pad: float = 1.0) -> tuple[float, float] | None:
    """How far two display-space boxes overlap along x and y, or None when they do not."""
    dx = min(a.x1, b.x1) - max(a.x0, b.x0) + pad
    dy = min(a.y1, b.y1) - max(a.y0, b.y0) + pad
    return (dx, dy) if dx > 0 and dy > 0 else None


def place_labels(figure, axes, xy, texts, *, rounds: int = 300) -> list:
    """Annotate each point (data coordinates) with its text, then push labels apart until none
    overlaps another label or any point's marker, keeping each inside the axes.

    Works on the renderer's real text boxes in display space, so it holds on any scale; a label
    that had to move away from its point gets a thin leader line back to it.
    """
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    renderer = figure.canvas.get_renderer()
    figure.draw_without_rendering()  # settle the constrained layout: positions are final from here
    to_pt = 72.0 / figure.dpi
    labels = []
    for (x, y), text in zip(xy, texts):
        label = axes.annotate(_plain(text), (x, y), textcoords="offset points", xytext=(7, 5),
                              fontsize=8, ha="left", va="bottom", zorder=4,
                              arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6,
                                          "shrinkA": 0, "shrinkB": 4})
        label.set_in_layout(False)
        labels.append(label)
    anchors = [axes.transData.transform(point) for point in xy]
    markers = [Bbox.from_extents(ax - 6, ay - 6, ax + 6, ay + 6) for ax, ay in anchors]
    frame = axes.get_window_extent(renderer)
    offsets = [np.array([7.0, 5.0]) / to_pt for _ in labels]  # in pixels
    sizes = []
    for label in labels:
        box = Text.get_window_extent(label, renderer)  # the text alone, not its leader line
        sizes.append((box.width, box.height))

    def box(index):
        (ax, ay), (dx, dy), (w, h) = anchors[index], offsets[index], sizes[index]
        return Bbox.from_extents(ax + dx, ay + dy, ax + dx + w, ay + dy + h)

    for label, (ax, _ay), (w, _h), offset in zip(labels, anchors, sizes, offsets):
        if ax + offset[0] + w > frame.x1 - 2:  # no room on the right: put the label on the left
            offset[0] = -7.0 / to_pt - w
    for _ in range(rounds):
        moved = False
        for i in range(len(labels)):
            mine = box(i)
            obstacles = [box(j) for j in range(len(labels)) if j != i] + markers
            for other in obstacles:
                overlap = _boxes_overlap(mine, other)
                if overlap is None:
                    continue
                dx, dy = overlap
                if dy <= dx:
                    step = dy if mine.y0 + mine.y1 >= other.y0 + other.y1 else -dy
                    offsets[i][1] += step * 0.6 + np.sign(step) * 0.5
                else:
                    step = dx if mine.x0 + mine.x1 >= other.x0 + other.x1 else -dx
                    offsets[i][0] += step * 0.6 + np.sign(step) * 0.5
                mine = box(i)
                moved = True
            # keep inside the axes
            (ax, ay), (w, h) = anchors[i], sizes[i]
            offsets[i][0] = min(max(offsets[i][0], frame.x0 + 2 - ax), frame.x1 - 2 - w - ax)
            offsets[i][1] = min(max(offsets[i][1], frame.y0 + 2 - ay), frame.y1 - 2 - h - ay)
        if not moved:
            break
    for label, offset in zip(labels, offsets):
        label.xyann = tuple(offset * to_pt)
        near = abs(offset[0]) < 12 / to_pt and 0 <= offset[1] < 10 / to_pt
        if near:  # right beside its point: no leader line needed
            label.arrow_patch.set_visible(False)
    return labels


def _log_if_wide(axes, values, which: str) -> None:
    """Log scale when the values span more than a decade (most models would sit in one corner on
    a linear axis), with margins that keep every point and its label off the frame."""
    values = np.asarray([v for v in values if v > 0], dtype=float)
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    setter = axes.set_xscale if which == "x" else axes.set_yscale
    limits = axes.set_xlim if which == "x" else axes.set_ylim
    if high / low >= 10:
        setter("log")
        limits(low / 1.6, high * 2.2)
    else:
        span = max(high - low, high * 0.05)
        limits(max(0.0, low - 0.25 * span), high + 0.45 * span)


def _point_label(point) -> str:
    return point.name if point.accuracy_top1 is None else f"{point.name} ({point.accuracy_top1 * 100:.1f}%)"


def _scatter_panel(figure, axes, points, *, front: bool, colour_by_source: bool = False):
    sizes_kib = [p.model_size_bytes / 1024 for p in points]
    latencies = [p.latency_ms for p in points]
    _log_if_wide(axes, sizes_kib, "x")
    _log_if_wide(axes, latencies, "y")
    if front:
        on_front = sorted((p for p in points if p.on_front), key=lambda p: (p.model_size_bytes, p.latency_ms))
        axes.step([p.model_size_bytes / 1024 for p in on_front], [p.latency_ms for p in on_front],
                  where="post", color="#c44e52", linewidth=1.0, zorder=1, label="Pareto front")
        axes.scatter([p.model_size_bytes / 1024 for p in points], latencies, s=50, zorder=2,
                     c=["#c44e52" if p.on_front else "#9aa5b1" for p in points],
                     edgecolors="black", linewidths=0.5)
    elif colour_by_source:
        sources = list(dict.fromkeys(p.source_name or "source unknown" for p in points))
        for index, source in enumerate(sources):
            mine = [p for p in points if (p.source_name or "source unknown") == source]
            axes.scatter([p.model_size_bytes / 1024 for p in mine], [p.latency_ms for p in mine], s=50,
                         color=f"C{index % 10}", edgecolors="black", linewidths=0.5, zorder=2,
                         label=_plain(source))
    axes.grid(alpha=0.3, which="both")
    axes.tick_params(labelsize=8)
    axes.set_xlabel("model size (KiB)", fontsize=9)
    axes.set_ylabel("median latency (ms)", fontsize=9)
    return list(zip(sizes_kib, latencies)), [_point_label(p) for p in points]


def pareto_figure(groups):
    """Size (x) against latency (y) for each source model's variants, a panel per source model,
    the front (nothing else is smaller and faster, and as accurate when known) in red."""
    rows, columns = _grid(len(groups))
    figure = _figure(8.0 if columns == 1 else 12.0, 4.6 if rows == 1 and columns == 1 else 0.6 + 3.8 * rows)
    grid = figure.subplots(rows, columns, squeeze=False).ravel()
    placed = []
    for axes, group in zip(grid, groups):
        xy, texts = _scatter_panel(figure, axes, group.points, front=True)
        axes.set_title(_panel_title(f"from {group.source_name}", 48), fontsize=9)
        placed.append((axes, xy, texts))
    for axes in grid[len(groups):]:
        axes.set_visible(False)
    figure.suptitle("Pareto front per source model (red: nothing else of that source is smaller "
                    "and faster" + (" and as accurate)" if all(p.accuracy_top1 is not None for g in groups
                                                              for p in g.points) else ")"), fontsize=10)
    for axes, xy, texts in placed:
        place_labels(figure, axes, xy, texts)
    return figure


def size_latency_figure(points):
    """Every model's size against its latency, coloured by source model, without a front: models
    of different sources are not alternatives to each other."""
    figure = _figure(12.0 if len(points) > 8 else 9.0, 6.0 if len(points) > 8 else 4.8)
    axes = figure.subplots()
    xy, texts = _scatter_panel(figure, axes, points, front=False, colour_by_source=True)
    if len({p.source_name for p in points}) > 1:
        axes.legend(fontsize=8, loc="upper left",
                    bbox_to_anchor=(1.01, 1.0), borderaxespad=0, title="source model",
                    title_fontsize=8, frameon=False)
    axes.set_title("size and median latency of every model", fontsize=10)
    place_labels(figure, axes, xy, texts)
    return figure


def pareto_png(groups) -> bytes:
    return _png(pareto_figure(groups))


def size_latency_png(points) -> bytes:
    return _png(size_latency_figure(points))
