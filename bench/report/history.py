"""The cross-run index page: every run under the results directory, its headline figures and
their trend across runs, with the steps bench.analysis.steps stands behind. The data are
bench.data.run_history's; this module draws and lays them out."""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pandas as pd

from bench.analysis import gate
from bench.analysis.steps import find_steps
from bench.core.paths import atomic_path
from bench.core.platform_names import sort_platforms
from bench.data.check_record import CONFIRMS, is_confirmation, read_check
from bench.data.results import ResultsError, RunData
from bench.data.run_history import (
    HEADLINES,
    Headline,
    Skipped,
    headline_samples,
    history_frame,
    run_order,
    scan,
)
from bench.data.run_meta import RunInfo, meta_value, run_info
from bench.report import charts
from bench.report.comparison import num, render_template
from bench.report.regression_view import badge

# Where a run's page lives, relative to the index: (host, run id) -> directory. Locally the
# run id alone; a site merged from several hosts (bench.report.site) puts the host first.
Locate = Callable[[str, str], str]
# The run pages' colours and markers (bench.report.charts): a platform looks the same on both.
STEP_COLOUR: Final = charts.OKABE_ITO["vermillion"]
LINESTYLES: Final = ("-", "--", ":", "-.")
# The y axis spans at least 10% of the median: autoscaled, 0.3% of noise fills the whole
# height and reads as a trend.
MIN_Y_SPAN: Final = 0.10


# --- charts ------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Text from run files shown as is: a "$" would start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _variant_label(platform: str, accel: str, workload_hash: str, variants: int) -> str:
    # Name the accel and definition only when this chart shows more than one of them.
    return platform if variants == 1 else f"{platform} ({accel}, {workload_hash[:8]})"


def _prefix_ids(svg: str, prefix: str) -> str:
    """matplotlib names glyphs and clip paths alike in every chart; on one page the ids must
    differ, so each chart's ids (and the references to them) get the chart's prefix."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))

    def ref(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}-{name}" if name in ids else match.group(0)

    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return re.sub(r"(#)([A-Za-z_][\w.:-]*)", ref, svg)


def _inline_svg(raw: str, prefix: str, title: str) -> str:
    """matplotlib's SVG made fit for an HTML page that loads nothing: no XML prolog or DOCTYPE
    (it names a URL), no RDF metadata (URLs again), no namespace declarations (HTML's parser
    sets them itself), ids made unique, and a <title> as the text alternative."""
    svg = raw[raw.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = _prefix_ids(svg, prefix)
    head_end = svg.index(">") + 1
    opening = svg[:head_end].replace("<svg", f'<svg role="img" aria-labelledby="{prefix}-title"', 1)
    return f'{opening}\n<title id="{prefix}-title">{html.escape(title)}</title>{svg[head_end:]}'


def y_limits(values: Sequence[float]) -> tuple[float, float] | None:
    """Limits that show at least MIN_Y_SPAN of the median, or None to let matplotlib choose."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    span = abs(sorted(finite)[len(finite) // 2]) * MIN_Y_SPAN
    if span == 0 or high - low >= span:
        return None
    middle = (low + high) / 2
    return (middle - span / 2, middle + span / 2)


def trend_svg(
    points: pd.DataFrame,
    steps: pd.DataFrame,
    runs: Sequence[RunInfo],
    headline: Headline,
    prefix: str,
) -> str:
    """One headline metric on one host: a line per platform (and accel / definition), the
    runs on the x axis in date order, flagged steps marked. Inline SVG, deterministic."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    position = {r.run_id: i for i, r in enumerate(runs)}
    unit = str(points["unit"].iloc[0])
    higher = bool(points["higher_is_better"].iloc[0])
    variant_keys = ["platform", "accel", "workload_hash"]
    variants = points.groupby(["accel", "workload_hash"], sort=False).ngroups
    summary: list[str] = []
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "vcbench", "font.size": 9}):
        fig = Figure(figsize=(8, 3.2), layout="constrained")
        ax = fig.add_subplot()
        seen: dict[str, int] = {}
        for (platform, accel, whash), frame in points.groupby(variant_keys, sort=False):
            colour, marker, _ = charts.style_of(str(platform))
            style = LINESTYLES[seen.get(str(platform), 0) % len(LINESTYLES)]
            seen[str(platform)] = seen.get(str(platform), 0) + 1
            xs = [position[r] for r in frame["run_id"]]
            label = _variant_label(str(platform), str(accel), str(whash), variants)
            ax.plot(
                xs,
                frame["median"],
                color=colour,
                marker=marker,
                linestyle=style,
                label=_plain(label),
            )
            first, last = frame["median"].iloc[0], frame["median"].iloc[-1]
            summary.append(f"{label} {num(first)} to {num(last)} over {len(frame)} runs")
        for step in steps.to_dict("records"):
            x = position[str(step["run_id"])]
            ax.axvline(x - 0.5, color=STEP_COLOUR, linestyle="--", linewidth=1.2)
            ax.annotate(
                _plain(f"{step['platform']} {step['change_pct']:+.1f}% {step['mark']}"),
                (x - 0.5, 1.0),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                xytext=(3, -10),
                color="#000000",
                fontsize=8,
            )
            summary.append(
                f"step before run {step['run_id']}: {step['platform']}"
                f" {step['change_pct']:+.1f}% {step['mark']}"
            )
        ticks = list(range(len(runs)))
        every = max(1, math.ceil(len(runs) / 10))  # at most ~10 labels: they must stay legible
        labels = [r.date[5:16] for r in runs]  # "MM-DD HH:MM": two runs a day stay apart
        ax.set_xticks(ticks[::every], labels[::every], rotation=30, ha="right")
        ax.set_xlim(-0.5, len(runs) - 0.5)
        limits = y_limits([float(v) for v in points["median"]])
        if limits is not None:
            ax.set_ylim(*limits)
        ax.set_ylabel(f"median {unit} ({'higher' if higher else 'lower'} is better)")
        ax.set_title(f"{headline.title}: {headline.workload} {headline.metric}")
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.legend(loc="best", fontsize=8)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    title = (
        f"Trend of {headline.workload} {headline.metric} ({unit}) across {len(runs)} runs: "
        + "; ".join(summary)
    )
    return _inline_svg(buffer.getvalue(), prefix, title)


# --- page --------------------------------------------------------------------------------


def _headline_cells(history: pd.DataFrame, run_id: str) -> dict[tuple[str, str], str]:
    """Per headline, "native 1697 · docker 1716" for one run."""
    mine = history.loc[history["run_id"] == run_id]
    cells: dict[tuple[str, str], str] = {}
    for (workload, metric), frame in mine.groupby(["workload", "metric"], sort=False):
        medians = dict(zip(frame["platform"], frame["median"], strict=True))
        cells[(str(workload), str(metric))] = " · ".join(
            f"{p} {num(medians[p])}" for p in sort_platforms(medians)
        )
    return cells


def _run_row(
    run: RunData, history: pd.DataFrame, reports_root: Path, locate: Locate | None
) -> dict[str, Any]:
    info = run_info(run)
    ok = sum(t.status == "ok" for t in run.trials)
    platforms = run.run_meta.platforms
    # The directory's name, URL-quoted: the link is relative and cannot leave the reports
    # directory or become a javascript: URL, whatever a run.json says.
    where = locate(info.host, info.run_id) if locate else run.directory.name
    return {
        "info": info,
        "href": f"{quote(where)}/index.html",
        "has_report": (reports_root / where / "index.html").is_file(),
        "platforms": ", ".join(str(p) for p in platforms) if isinstance(platforms, list) else "",
        "ok": ok,
        "failed": len(run.trials) - ok,
        "headlines": _headline_cells(history, info.run_id),
        "check": _check_badge(run),
    }


def _check_badge(run: RunData) -> str:
    """What the run-level regression check said of this run ("" when it was not checked)."""
    if is_confirmation(run.meta):
        return f"confirmation run of {run.meta[CONFIRMS].get('run_id', '?')}"
    try:
        return badge(read_check(run.directory))
    except ResultsError as exc:
        return f"check unreadable: {exc.one_line()}"


def _step_rows(steps: pd.DataFrame, locate: Locate | None) -> list[dict[str, str]]:
    def where(host: str, run_id: str) -> str:
        return locate(host, run_id) if locate else run_id

    return [
        {
            "workload": str(s["workload"]),
            "metric": str(s["metric"]),
            "platform": str(s["platform"]),
            "accel": str(s["accel"]),
            "before": str(s["before_run_id"]),
            "after": str(s["run_id"]),
            "href": f"{quote(where(str(s['host']), str(s['run_id'])))}/index.html",
            "medians": f"{num(s['median_before'])} → {num(s['median_after'])}",
            "change": f"{s['change_pct']:+.1f}%",
            "p": num(s["p_value"], 2),
            "mark": str(s["mark"]),
        }
        for s in steps.to_dict("records")
    ]


def _host_section(
    host: str,
    runs: Sequence[RunData],
    history: pd.DataFrame,
    steps: pd.DataFrame,
    reports_root: Path,
    index: int,
    locate: Locate | None,
) -> dict[str, Any]:
    ordered = sorted(runs, key=run_order)
    infos = [run_info(r) for r in ordered]
    mine = history.loc[history["host"] == host]
    my_steps = steps.loc[steps["host"] == host]
    present = {(str(w), str(m)) for w, m in zip(mine["workload"], mine["metric"], strict=True)}
    headlines = [h for h in HEADLINES if (h.workload, h.metric) in present]
    charts = []
    for number, h in enumerate(headlines):
        points = mine.loc[(mine["workload"] == h.workload) & (mine["metric"] == h.metric)]
        chart_steps = my_steps.loc[
            (my_steps["workload"] == h.workload) & (my_steps["metric"] == h.metric)
        ]
        charts.append(
            {
                "headline": h,
                "svg": trend_svg(points, chart_steps, infos, h, f"c{index}-{number}"),
                "runs": len({*points["run_id"]}),
            }
        )
    latest = ordered[-1].run_meta.fingerprint
    return {
        "host": host,
        "anchor": f"host-{index}",
        "cpu": str(meta_value(latest, ("cpu", "model")) or "-"),
        "kernel": str(latest.get("host_kernel") or "-"),
        "headlines": headlines,
        # This host's figures only: two hosts may well have runs of the same id.
        "runs": [_run_row(r, mine, reports_root, locate) for r in reversed(ordered)],
        "charts": charts,
        "steps": _step_rows(my_steps, locate),
    }


def index_html(
    runs: Sequence[RunData],
    skipped: Sequence[Skipped],
    reports_root: Path,
    locate: Locate | None = None,
) -> str:
    """The index page for these runs: per host, newest first, with trends and steps.
    `locate`: where each run's page is under reports_root (default: its directory's name)."""
    samples = headline_samples(runs)
    history = history_frame(runs)
    steps = find_steps(samples)
    by_host: dict[str, list[RunData]] = {}
    for run in sorted(runs, key=run_order):
        by_host.setdefault(run_info(run).host, []).append(run)
    hosts = [
        _host_section(host, group, history, steps, reports_root, i, locate)
        for i, (host, group) in enumerate(sorted(by_host.items()))
    ]
    return render_template(
        "index.html.j2",
        hosts=hosts,
        skipped=skipped,
        total=len(runs),
        tcg=any(run_info(r).accel == "tcg" for r in runs),
        alpha=gate.ALPHA,
    )


def write_index(results_root: Path, reports_root: Path) -> Path:
    """Write reports_root/index.html over every run under results_root; return its path."""
    runs, skipped = scan(results_root)
    page = index_html(runs, skipped, reports_root)
    target = reports_root / "index.html"
    with atomic_path(target) as tmp:  # a browser reloading mid-write sees the old page
        tmp.write_text(page)
    return target


__all__ = ["Locate", "index_html", "trend_svg", "write_index"]
