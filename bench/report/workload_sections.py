"""The run page's per-workload sections: the dots chart of every repeat, the start-up phases,
the time series, the method and the links to the raw outputs, gathered per workload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from bench.data.results import RunData, Trial
from bench.report import charts
from bench.report.raw_links import Link, raw_links
from bench.report.run_frames import frame_records, plan_workloads, workload_order
from bench.report.time_series import Reading, series_figure, series_trials
from bench.report.workload_method import method_rows

STARTUP_PARTS: Final = ("create_to_running_s", "running_to_ready_s")
GUEST_PHASES: Final = ("guest_kernel_s", "guest_initramfs_s", "guest_init_s", "host_to_guest_s")
PHASE_NAMES: Final = {
    "create_to_running_s": "create \u2192 running",
    "running_to_ready_s": "running \u2192 ready",
    "guest_kernel_s": "guest kernel",
    "guest_initramfs_s": "guest initramfs",
    "guest_init_s": "guest init",
    "host_to_guest_s": "firmware, console",
}
# bw_mib_s is iops times the block size: a second chart of it would say nothing new.
REDUNDANT: Final = {"bw_mib_s": "iops"}
DOTS_NOTE: Final = (
    "Every measured repeat as a dot, jittered so none hides another; black bar: the median;"
    " grey band: its 95% interval; dashed line: native's median."
)
PHASES_NOTE: Final = (
    "Medians of the start-up phases: the host's clock for every platform (create call,"
    " running, ready marker), and for the VM its own clock (/proc/uptime) at each boot phase."
)


@dataclass(frozen=True)
class Figure:
    chart: charts.Chart
    caption: str


@dataclass
class Section:
    name: str
    description: str
    kind: str
    figures: list[Figure] = field(default_factory=list)
    method: list[tuple[str, str]] = field(default_factory=list)
    method_text: str = ""
    raw: list[tuple[str, list[tuple[str, list[Link]]]]] = field(default_factory=list)

    @property
    def raw_trials(self) -> int:
        return sum(len(trials) for _, trials in self.raw)


def _values(frame: pd.DataFrame) -> dict[tuple[str, str, str], charts.FloatArray]:
    out: dict[tuple[str, str, str], charts.FloatArray] = {}
    if frame.empty:
        return out
    for key, group in frame.groupby(["workload", "metric", "platform"], sort=False):
        w, m, p = (str(k) for k in key)
        out[(w, m, p)] = group["value"].to_numpy(dtype=np.float64)
    return out


def _headline(metrics: Sequence[str], kind: str) -> list[str]:
    if kind == "startup":
        return [m for m in metrics if m == "startup_s"] or list(metrics[:1])
    chosen = [m for m in metrics if m not in GUEST_PHASES and m not in STARTUP_PARTS]
    return [m for m in chosen if REDUNDANT.get(m) not in chosen]


def workload_sections(
    run: RunData,
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    platforms: Sequence[str],
    series: Mapping[str, Sequence[Reading]] | None,
    links_base: str,
    files: frozenset[str] | None,
) -> list[Section]:
    plans = {str(w["name"]): w for w in plan_workloads(run)}
    values = _values(frame)
    records = frame_records(summary) if not summary.empty else []
    stats_of = {(str(r["workload"]), str(r["metric"]), str(r["platform"])): r for r in records}
    picks = series_trials(run)
    trials_of: dict[str, list[Trial]] = {}
    for t in sorted(run.trials, key=lambda t: (t.round, t.warmup, t.trial_id)):
        trials_of.setdefault(t.workload, []).append(t)
    out = []
    for index, name in enumerate(workload_order(run, frame)):
        plan = plans.get(name, {})
        kind = str(plan.get("kind", "command"))
        section = Section(name, str(plan.get("description", "")), kind)
        metrics = list(dict.fromkeys(m for (w, m, _) in values if w == name))
        panels = [_panel(m, platforms, values, stats_of, name) for m in _headline(metrics, kind)]
        panels = [p for p in panels if p.strips]
        key = f"c{index}"
        if panels:
            section.figures.append(Figure(charts.dots_chart(f"{key}d", name, panels), DOTS_NOTE))
        if kind == "startup":
            bars = _phase_bars(name, platforms, values)
            if bars:
                chart = charts.phases_chart(f"{key}p", "Where the start-up time goes", bars)
                section.figures.append(Figure(chart, PHASES_NOTE))
        if series is not None:
            found = series_figure(f"{key}s", name, picks.get(name, {}), series, platforms)
            if found is not None:
                section.figures.append(Figure(*found))
        section.method, section.method_text = method_rows(plan, run)
        section.raw = raw_links(trials_of.get(name, []), platforms, links_base, files)
        out.append(section)
    return out


def _panel(
    metric: str,
    platforms: Sequence[str],
    values: Mapping[tuple[str, str, str], charts.FloatArray],
    stats_of: Mapping[tuple[str, str, str], Mapping[str, Any]],
    workload: str,
) -> charts.MetricPanel:
    strips = []
    unit, better = "", True
    for platform in platforms:
        found = values.get((workload, metric, platform))
        rec = stats_of.get((workload, metric, platform))
        if found is None or rec is None:
            continue
        unit, better = str(rec["unit"]), bool(rec["higher_is_better"])
        strips.append(
            charts.Strip(
                platform,
                found,
                float(rec["median"]),
                float(rec["ci_low"]),
                float(rec["ci_high"]),
            )
        )
    return charts.MetricPanel(metric, unit, better, tuple(strips))


def _phase_bars(
    workload: str,
    platforms: Sequence[str],
    values: Mapping[tuple[str, str, str], charts.FloatArray],
) -> list[charts.PhaseBar]:
    def median(metric: str, platform: str) -> float | None:
        found = values.get((workload, metric, platform))
        return float(np.median(found)) if found is not None and found.size else None

    bars = []
    for platform in platforms:
        for clock, metrics in (("host", STARTUP_PARTS), ("guest", GUEST_PHASES)):
            phases = [
                (PHASE_NAMES[m], v) for m in metrics if (v := median(m, platform)) is not None
            ]
            if phases:
                bars.append(charts.PhaseBar(f"{platform}: {clock} clock", tuple(phases)))
    return bars
