"""The self-contained HTML report of one run: `render_run` (pure) and `write_report` (I/O).

One file, readable offline and printable: inline CSS and SVG, no script, no URL outside the
page but relative links to the run's raw outputs, and a Content-Security-Policy that would
block anything else a future template might let in.

Layering: statistics come from bench.analysis, data from bench.data; nothing here imports the
platforms, the runner or the collectors, so a report renders on any machine.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from bench.analysis import calibration, gate, stats
from bench.analysis.claims import assess
from bench.analysis.claims.references import references_for
from bench.core.paths import atomic_path, reports_dir
from bench.core.platform_names import VM, base_of, platform_key
from bench.data.results import TIMESERIES, RunData, Sample, Trial, load_run
from bench.report import charts
from bench.report.claims_view import claim_rows

BASELINE: Final = "native"
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
# Where an instance's own memory and CPU are read, best first (the VM's QEMU RSS rather than
# its PSS: PSS is read every few ticks only, too sparse for a line); the host's as last resort
# (start-up trials sample nothing else).
MEMORY_SOURCES: Final = (
    ("cgroup", "mem_bytes", "cgroup memory"),
    ("qemu", "rss_bytes", "QEMU RSS"),
    ("procs", "rss_bytes", "processes' RSS"),
    ("host", "mem_used_bytes", "host memory used"),
)
CPU_SOURCES: Final = (
    ("cgroup", "cpu_s", "cgroup CPU"),
    ("qemu", "cpu_s", "QEMU CPU"),
    ("procs", "cpu_s", "processes' CPU"),
    ("host", "cpu_s", "host CPU, all of it"),
)
RESOURCE_METRICS: Final = {
    "cpu": ("cgroup.cpu_s.mean", "qemu.cpu_s.mean", "procs.cpu_s.mean"),
    "memory": ("cgroup.mem_bytes.mean", "qemu.pss_bytes.mean", "qemu.rss_bytes.mean"),
    "host": ("host.cpu_s.mean",),
}
DOTS_NOTE: Final = (
    "Every measured repeat as a dot, jittered so none hides another; black bar: the median;"
    " grey band: its 95% interval; dashed line: native's median."
)
PHASES_NOTE: Final = (
    "Medians of the start-up phases: the host's clock for every platform (create call,"
    " running, ready marker), and for the VM its own clock (/proc/uptime) at each boot phase."
)
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MIB: Final = 1024.0 * 1024.0


@dataclass(frozen=True)
class Reading:
    """One line of timeseries.jsonl."""

    t: float
    source: str
    values: Mapping[str, float]


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Notice:
    """A warning as the banner shows it: what, about what, and what to do."""

    code: str
    level: str  # "alert" (the figures are compromised) or "warn"
    message: str
    advice: str
    subjects: tuple[tuple[str, str], ...] = ()  # (subject, its own message)


@dataclass(frozen=True)
class Cell:
    text: str  # median, with its unit when it was scaled
    interval: str
    overhead: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Row:
    metric: str
    unit: str
    direction: str
    cells: tuple[Cell | None, ...]


@dataclass(frozen=True)
class Group:
    """A workload's rows of the summary table."""

    workload: str
    rows: tuple[Row, ...]


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


# --- entry points --------------------------------------------------------------------------


def write_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Render the run in run_dir to out_dir/index.html (default: reports/<run-id>/)."""
    run = load_run(run_dir)
    out_dir = out_dir if out_dir is not None else reports_dir() / run.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {tid for per in series_trials(run).values() for tid in per.values()}
    text = render_run(
        run,
        series=load_series(run_dir / TIMESERIES, wanted),
        links_base=Path(os.path.relpath(run_dir.resolve(), out_dir.resolve())).as_posix(),
        files=_listed(run_dir, ("raw", "logs")),
    )
    target = out_dir / "index.html"
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def render_run(
    run: RunData,
    *,
    series: Mapping[str, Sequence[Reading]] | None = None,
    links_base: str = "",
    files: frozenset[str] | None = None,
) -> str:
    """The page of one run. `series`: timeseries readings by trial id (see series_trials);
    `links_base`: the run directory relative to where the page will be (links to raw
    outputs); `files`: the run's raw/ and logs/ files that exist (None: link what the trials
    name, and no instance logs)."""
    every = _workload_frame(run)
    summary = _summarize(run, every)  # the gate sees values that are not numbers, and says so
    frame = _finite(every)
    platforms = _platforms(run, frame)
    accel = _accel(run, platforms)
    context: dict[str, Any] = {
        "csp": Markup(CSP),  # a constant: its quotes stay quotes
        "run_id": run.run_id,
        "header": _header(run, platforms, accel),
        "tcg": _tcg_banner(run) if accel == "tcg" else None,
        "notices": _notices(run, frame, accel),
        "platforms": platforms,
        "tcg_platforms": [p for p in platforms if base_of(p) == VM] if accel == "tcg" else [],
        "groups": _groups(run, summary, platforms),
        "claims": claim_rows(assess(run)),
        "references": _references(summary, accel),
        "resources": _resources(run, platforms),
        "sections": _sections(run, frame, summary, platforms, series, links_base, files),
        "failed": _failed(run, links_base, files),
        "fingerprint": _flatten(run.meta.get("fingerprint", {})),
        "plan": _plan(run),
        "workload_plans": _workload_plans(run),
        "events": _event_rows(run),
        "gate": _gate_method(),
    }
    return _environment().get_template("run.html.j2").render(context)


# --- data -------------------------------------------------------------------------------------

_COLUMNS: Final = tuple(Sample.__dataclass_fields__)


def _workload_frame(run: RunData) -> pd.DataFrame:
    """The measured workload samples. vars(), not dataclasses.asdict: 20x faster at 100k."""
    rows = [vars(s) for s in run.samples if s.origin == "workload" and not s.warmup]
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    kept: pd.DataFrame = frame.loc[~frame["metric"].isin(gate.EXCLUDED_METRICS)]
    return kept.reset_index(drop=True)


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    """The samples a chart can draw: values that are numbers."""
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    kept: pd.DataFrame = frame.loc[np.isfinite(values)].reset_index(drop=True)
    return kept


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _summarize(run: RunData, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(stats.SUMMARY_COLUMNS))
    return stats.summarize(frame, baseline=BASELINE, min_effects=gate.min_effects(run.meta))


def _plan(run: RunData) -> dict[str, Any]:
    plan = run.meta.get("plan", {})
    return plan if isinstance(plan, dict) else {}


def _plan_workloads(run: RunData) -> list[dict[str, Any]]:
    return [w for w in _plan(run).get("workloads", []) if isinstance(w, dict) and "name" in w]


def _platforms(run: RunData, frame: pd.DataFrame) -> list[str]:
    """The plan's platforms and any the samples name besides: native first, then the one
    platform order (docker, libvirt, libvirt-tuned, libvirt-emulated)."""
    named = [str(p) for p in _plan(run).get("platforms", [])]
    seen = [*named, *frame["platform"].astype(str)]
    return sorted(set(seen), key=lambda p: (p != BASELINE, platform_key(p)))


def _accel(run: RunData, platforms: Sequence[str]) -> str:
    """The VM's acceleration, or "none" when no VM ran: TCG matters only for VM figures."""
    if not any(base_of(p) == VM for p in platforms):
        return "none"
    accel = run.meta.get("fingerprint", {}).get("accel", {})
    found = accel.get("accel") if isinstance(accel, dict) else accel
    if found:
        return str(found)
    libvirt = {t.accel for t in run.trials if base_of(t.platform) == VM}
    return libvirt.pop() if len(libvirt) == 1 else "unknown"


def _workload_order(run: RunData, frame: pd.DataFrame) -> list[str]:
    planned = [str(w["name"]) for w in _plan_workloads(run)]
    return list(dict.fromkeys([*planned, *frame["workload"].astype(str)]))


# --- header and warnings -----------------------------------------------------------------------


def _when(meta: Mapping[str, Any]) -> str:
    created = meta.get("created")
    if isinstance(created, int | float):
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created))
    match = re.match(r"(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)", str(meta.get("run_id", "")))
    return "{}-{}-{} {}:{}".format(*match.groups()) if match else "unknown"


def _limits_text(limits: Mapping[str, Any]) -> str:
    if not limits:
        return "none"
    parts = []
    if limits.get("vcpus"):
        parts.append(f"{limits['vcpus']} vCPU")
    if limits.get("memory_mib"):
        parts.append(f"{limits['memory_mib']} MiB")
    if limits.get("cpuset"):
        parts.append(f"pinned to CPU {limits['cpuset']}")
    return ", ".join(parts) or "none"


def _header(run: RunData, platforms: Sequence[str], accel: str) -> list[tuple[str, str]]:
    fp = run.meta.get("fingerprint", {})
    plan = _plan(run)
    cpu = fp.get("cpu", {}) if isinstance(fp.get("cpu"), dict) else {}
    git = fp.get("git", {}) if isinstance(fp.get("git"), dict) else {}
    done = [t for t in run.trials if not t.warmup]
    failed = sum(t.status == "failed" for t in run.trials)
    rows = [
        ("host", f"{fp.get('hostname', '?')} ({fp.get('arch', '?')}, kernel"
                 f" {fp.get('host_kernel', '?')})"),
        ("CPU", f"{cpu.get('model', '?')}, {cpu.get('usable', cpu.get('count', '?'))} usable"),
        ("date", _when(run.meta)),
        ("platforms", ", ".join(platforms) or "none"),
        ("VM acceleration", accel if accel != "none" else "no VM in this run"),
        ("limits", _limits_text(plan.get("limits") or fp.get("limits") or {})),
        ("suite", f"{plan.get('suite', '?')}, seed {plan.get('seed', '?')}"),
        ("trials", f"{len(run.trials)} recorded ({len(done)} measured, {failed} failed)"
                   f" of {plan.get('trials', '?')} planned"),
        ("vcbench", f"{fp.get('vcbench', '?')}, commit {str(git.get('commit', '?'))[:12]}"
                    + (" (dirty)" if git.get("dirty") in ("yes", True) else "")),
    ]  # fmt: skip
    return rows


def _tcg_banner(run: RunData) -> dict[str, str]:
    accel = run.meta.get("fingerprint", {}).get("accel", {})
    reason = accel.get("reason", "") if isinstance(accel, dict) else ""
    emulated = stats.run_warnings(failed_trials=0, total_trials=0, busy=[], accel="tcg")[0]
    return {"message": emulated.message, "advice": emulated.advice, "reason": str(reason)}


def _busy_reasons(run: RunData) -> list[str]:
    found = []
    for event in run.events:
        if event.kind == "warning" and event.data.get("code") == "busy-host":
            found.append(re.sub(r"^busy host:\s*", "", event.message))
    return found


def _notices(run: RunData, frame: pd.DataFrame, accel: str) -> list[Notice]:
    """Every warning of the run, grouped by kind; the TCG one has its own banner."""
    failed = sum(t.status == "failed" for t in run.trials)
    out: list[Notice] = []
    for w in stats.run_warnings(
        failed_trials=failed, total_trials=len(run.trials), busy=_busy_reasons(run), accel=accel
    ):
        if w.code != "emulated":
            out.append(Notice(w.code, "alert", w.message, w.advice))
    out.extend(_event_notices(run))
    out.extend(
        Notice("reader", "warn", message, "the rest of the run was read; rerun if it matters")
        for message in run.warnings
    )
    if not frame.empty:
        out.extend(_grouped(stats.stability_warnings(frame)))
    return out


def _event_notices(run: RunData) -> list[Notice]:
    out = []
    for event in run.events:
        code = str(event.data.get("code", event.kind))
        if event.kind == "dropped-platform":
            out.append(Notice("dropped-platform", "alert", event.message, event.advice))
        elif event.kind == "warning" and code != "busy-host":
            out.append(Notice(code, "warn", event.message, event.advice))
    kinds = [e.kind for e in run.events]
    if "finished" not in kinds:
        out.append(
            Notice(
                "unfinished",
                "alert",
                "the run has no 'finished' event: it was interrupted, or is still running;"
                " the figures cover the trials recorded so far",
                "finish it with `vcbench run --resume`, then render the report again",
            )
        )
    elif "interrupted" in kinds:
        out.append(
            Notice(
                "interrupted",
                "warn",
                "the run was interrupted and resumed: its trials span more than one sitting",
                "compare the fingerprint's time-dependent facts (load, frequency) if figures"
                " look odd",
            )
        )
    return out


def _grouped(warnings: Iterable[stats.StatWarning]) -> list[Notice]:
    """One notice per kind of stability warning: a short run has dozens of "few repeats"."""
    groups: dict[str, list[stats.StatWarning]] = {}
    for w in warnings:
        groups.setdefault(w.code, []).append(w)
    out = []
    for code, members in groups.items():
        count = len(members)
        message = members[0].message if count == 1 else _GROUP_MESSAGE.get(code, code)
        if count > 1:
            message = f"{message} ({count} figures)"
        out.append(
            Notice(
                code,
                "warn",
                message,
                members[0].advice,
                tuple((w.subject, w.message) for w in members),
            )
        )
    return out


_GROUP_MESSAGE: Final = {
    "few-repeats": "too few measured repeats to tell a difference from noise",
    "high-cv": "the repeats disagree: coefficient of variation above the limit",
    "outliers": "values far from the median",
    "slow-first": "the first measured repeat is slower than the rest",
}


# --- summary table ----------------------------------------------------------------------------


def _num(value: Any) -> str:
    """Four significant digits, without exponents for the sizes a benchmark reports."""
    number = float(value)
    if not math.isfinite(number):
        return "-"
    if 1e4 <= abs(number) < 1e15:
        return f"{float(f'{number:.4g}'):,.0f}"  # 55,600, not 5.56e+04
    return f"{number:,.4g}"


def _scale(unit: str, value: float) -> tuple[float, str]:
    """Seconds shown in the unit that fits the cell's median: 82 \u00b5s, not 8.2e-05 s."""
    if unit != "s" or not math.isfinite(value) or value == 0 or abs(value) >= 1:
        return 1.0, unit if unit == "s" else ""
    return (1e3, "ms") if abs(value) >= 1e-3 else (1e6, "\u00b5s")


def _overhead_text(overhead: float, ratio: float) -> str:
    if not math.isfinite(overhead):
        return ""
    text = f"{overhead:+.1f}%" if abs(overhead) < 100 else f"{overhead:+,.0f}%"
    # Past a factor of 2 the ratio reads better than the percentage: x13.4, not +1,236%.
    if math.isfinite(ratio) and ratio > 0 and (ratio >= 2 or ratio <= 0.5):
        text += f" (\u00d7{ratio:.3g})"
    return text


def _cell(row: Mapping[str, Any]) -> Cell:
    n = int(row["n"])
    factor, suffix = _scale(str(row["unit"]), float(row["median"]))
    unit = f" {suffix}" if suffix else ""
    low, high = float(row["ci_low"]) * factor, float(row["ci_high"]) * factor
    interval = f"[{_num(low)}\u2013{_num(high)}]" if n >= 2 and math.isfinite(low) else ""
    verdict = str(row["verdict"])
    overhead = (
        ""
        if verdict == "baseline"
        else _overhead_text(float(row["overhead_pct"]), float(row["ratio"]))
    )
    return Cell(
        f"{_num(float(row['median']) * factor)}{unit}",
        f"{interval} n={n}".strip(),
        overhead,
        verdict,
        str(row["reason"]),
    )


def _groups(run: RunData, summary: pd.DataFrame, platforms: Sequence[str]) -> list[Group]:
    """The summary table: workloads in the plan's order, metrics in the order measured."""
    if summary.empty:
        return []
    by_metric: dict[str, dict[str, dict[str, Mapping[str, Any]]]] = {}
    for rec in _records(summary):
        metrics = by_metric.setdefault(str(rec["workload"]), {})
        metrics.setdefault(str(rec["metric"]), {})[str(rec["platform"])] = rec
    groups = []
    for workload in _workload_order(run, summary):
        rows = []
        for metric, cells in by_metric.get(workload, {}).items():
            first = next(iter(cells.values()))
            rows.append(
                Row(
                    metric=metric,
                    unit=str(first["unit"]),
                    direction="higher is better"
                    if first["higher_is_better"]
                    else "lower is better",
                    cells=tuple(_cell(cells[p]) if p in cells else None for p in platforms),
                )
            )
        if rows:
            groups.append(Group(workload, tuple(rows)))
    return groups


def _references(summary: pd.DataFrame, accel: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    if summary.empty:
        return out
    index = {
        (str(r["workload"]), str(r["metric"]), str(r["platform"])): r for r in _records(summary)
    }
    for workload in dict.fromkeys(summary["workload"].astype(str)):
        for ref in references_for(workload):
            mine = index.get((workload, ref.metric, ref.platform))
            if mine is None:
                continue
            if ref.platform == "libvirt" and accel == "tcg":
                measured, verdict = "not comparable: TCG", "software emulation, theirs KVM"
            else:
                measured = f"{float(mine['overhead_pct']):+.1f}%"
                verdict = str(mine["verdict"])
                if math.isfinite(float(mine["ratio"])):
                    measured += f" (\u00d7{float(mine['ratio']):.3g})"
            out.append(
                {
                    "workload": workload,
                    "metric": ref.metric,
                    "platform": ref.platform,
                    "measured": measured,
                    "verdict": verdict,
                    "published": f"{ref.benchmark}: {ref.published}",
                    "restated": ref.overhead_text,
                    "source": ref.source,
                    "note": ref.note,
                }
            )
    return out


# --- resources (collector summaries) ----------------------------------------------------------


def _resources(run: RunData, platforms: Sequence[str]) -> list[dict[str, Any]]:
    """Per workload and platform: the instance's CPU and memory and the host's CPU, medians
    over the measured trials of the collectors' per-trial means."""
    wanted = {m for names in RESOURCE_METRICS.values() for m in names}
    values: dict[tuple[str, str, str], list[float]] = {}
    for s in run.samples:
        if s.origin == "collector" and not s.warmup and s.metric in wanted:
            values.setdefault((s.workload, s.platform, s.metric), []).append(s.value)
    if not values:
        return []
    rows = []
    for workload in dict.fromkeys(w for w, _, _ in values):
        cells = []
        for platform in platforms:
            cells.append(
                {
                    "cpu": _first(values, workload, platform, RESOURCE_METRICS["cpu"], 1.0),
                    "memory": _first(values, workload, platform, RESOURCE_METRICS["memory"], MIB),
                    "host": _first(values, workload, platform, RESOURCE_METRICS["host"], 1.0),
                }
            )
        rows.append({"workload": workload, "cells": cells})
    return rows


def _first(
    values: Mapping[tuple[str, str, str], list[float]],
    workload: str,
    platform: str,
    metrics: Sequence[str],
    scale: float,
) -> str:
    for metric in metrics:
        found = values.get((workload, platform, metric))
        if found:
            value = float(np.median(found)) / scale
            # a VM's 1,034 MiB, not 1.03e+03
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return ""


# --- per-workload sections ---------------------------------------------------------------------


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


def _sections(
    run: RunData,
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    platforms: Sequence[str],
    series: Mapping[str, Sequence[Reading]] | None,
    links_base: str,
    files: frozenset[str] | None,
) -> list[Section]:
    plans = {str(w["name"]): w for w in _plan_workloads(run)}
    values = _values(frame)
    records = _records(summary) if not summary.empty else []
    stats_of = {(str(r["workload"]), str(r["metric"]), str(r["platform"])): r for r in records}
    picks = series_trials(run)
    trials_of: dict[str, list[Trial]] = {}
    for t in sorted(run.trials, key=lambda t: (t.round, t.warmup, t.trial_id)):
        trials_of.setdefault(t.workload, []).append(t)
    out = []
    for index, name in enumerate(_workload_order(run, frame)):
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
            found = _series(f"{key}s", name, picks.get(name, {}), series, platforms)
            if found is not None:
                section.figures.append(found)
        section.method, section.method_text = _method(plan, run)
        section.raw = _raw_links(trials_of.get(name, []), platforms, links_base, files)
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


# --- time series ---------------------------------------------------------------------------


def series_trials(run: RunData) -> dict[str, dict[str, str]]:
    """Per workload and platform, the trial whose readings the report plots: a measured, ok
    trial from the middle round, so a slow first round or a late hiccup does not speak for
    the rest."""
    rounds: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for t in run.trials:
        if t.status == "ok" and not t.warmup:
            rounds.setdefault((t.workload, t.platform), []).append((t.round, t.trial_id))
    picks: dict[str, dict[str, str]] = {}
    for (workload, platform), found in rounds.items():
        found.sort()
        picks.setdefault(workload, {})[platform] = found[len(found) // 2][1]
    return picks


def load_series(path: Path, trial_ids: Iterable[str]) -> dict[str, list[Reading]]:
    """The readings of the given trials. A full run's file holds every trial's readings: the
    trial id is cut from each line's start before any JSON is parsed."""
    wanted = set(trial_ids)
    out: dict[str, list[Reading]] = {tid: [] for tid in wanted}
    if not wanted or not path.exists():
        return out
    prefix = b'{"trial_id":"'
    with path.open("rb") as lines:
        for raw in lines:
            if raw.startswith(prefix):
                end = raw.find(b'"', len(prefix))
                if raw[len(prefix) : end].decode(errors="replace") not in wanted:
                    continue
            try:
                row = json.loads(raw)
                tid = str(row["trial_id"])
                if tid in wanted:
                    out[tid].append(Reading(float(row["t"]), str(row["source"]), row["values"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line: the reader of the samples says so already
    return out


def _points(
    readings: Sequence[Reading], source: str, name: str
) -> tuple[charts.FloatArray, charts.FloatArray]:
    t = [r.t for r in readings if r.source == source and name in r.values]
    v = [float(r.values[name]) for r in readings if r.source == source and name in r.values]
    order = np.argsort(np.asarray(t, dtype=np.float64), kind="stable")
    return (np.asarray(t, dtype=np.float64)[order], np.asarray(v, dtype=np.float64)[order])


def _line(
    readings: Sequence[Reading],
    platform: str,
    candidates: Sequence[tuple[str, str, str]],
    counter: bool,
) -> charts.Line | None:
    for source, name, label in candidates:
        t, v = _points(readings, source, name)
        if t.size < 2:
            continue
        if counter:
            t, y = charts.counter_rate(t, v)
        else:
            t, y = charts.downsample_gauge(t, v / MIB)
        return charts.Line(f"{platform} ({label})", platform, t, y)
    return None


def _series(
    key: str,
    workload: str,
    picks: Mapping[str, str],
    series: Mapping[str, Sequence[Reading]],
    platforms: Sequence[str],
) -> Figure | None:
    memory: list[charts.Line] = []
    cpu: list[charts.Line] = []
    shown: list[str] = []
    for platform in platforms:
        tid = picks.get(platform)
        readings = series.get(tid, ()) if tid else ()
        lines = [
            _line(readings, platform, MEMORY_SOURCES, counter=False),
            _line(readings, platform, CPU_SOURCES, counter=True),
        ]
        mem_line, cpu_line = lines
        memory.extend([mem_line] if mem_line is not None else [])
        cpu.extend([cpu_line] if cpu_line is not None else [])
        found = [line.label for line in lines if line is not None]
        if found:
            shown.append(f"{tid}: " + ", ".join(label.split(" (", 1)[1][:-1] for label in found))
    if not memory and not cpu:
        return None
    panels = [
        charts.SeriesPanel("Memory", "MiB", tuple(memory)),
        charts.SeriesPanel("CPU", "cores", tuple(cpu)),
    ]
    title = f"{workload}: memory and CPU over one trial"
    chart = charts.series_chart(key, title, [p for p in panels if p.lines])
    caption = (
        "Memory and CPU (CPU-seconds per second) over one measured trial per platform, from"
        " the middle round: " + "; ".join(shown) + "."
    )
    return Figure(chart, caption)


# --- method and raw links ---------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, fields: Mapping[str, Any]) -> str:
    """str.format for the placeholders that have a value; the others stay as written (braces
    in prose or an {address} known only per trial must not break the page)."""

    def one(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(one, template)


def _method(plan: Mapping[str, Any], run: RunData) -> tuple[list[tuple[str, str]], str]:
    if not plan:
        return [("definition", "not in run.json (a workload the plan does not name)")], ""
    limits = _plan(run).get("limits") or {}
    fields = {**limits, **plan}
    rows: list[tuple[str, str]] = [("kind", str(plan.get("kind", "command")))]
    if plan.get("command"):
        rows.append(("command", _fill(" ".join(map(str, plan["command"])), fields)))
    if plan.get("server"):
        rows.append(("server", _fill(" ".join(map(str, plan["server"])), fields)))
    if plan.get("parser"):
        rows.append(("parser", str(plan["parser"])))
    if plan.get("runs_on") == "host":
        rows.append(("runs on", "the host, against the instance"))
    rows.append(("duration", f"{plan.get('duration', '?')} s"))
    repeats = f"{plan.get('repeats', '?')} measured, {plan.get('warmup', 0)} warm-up"
    rows.append(("repeats", repeats))
    if plan.get("file_size_mib"):
        rows.append(("file size", f"{plan['file_size_mib']} MiB"))
    if plan.get("kind") == "startup":
        rows.append(("page cache", str(plan.get("cache", "warm"))))
    rows.append(("pinned", _limits_text(limits)))
    rows.append(("platforms", ", ".join(map(str, plan.get("platforms", [])))))
    rows.append(("definition hash", str(plan.get("hash", "?"))))
    return rows, _fill(str(plan.get("method", "")), fields)


def _safe_rel(path: str) -> bool:
    """A path inside the run directory: no scheme, not absolute, no way up."""
    return bool(path) and ":" not in path and not path.startswith(("/", "\\")) and (
        ".." not in path.split("/")
    )  # fmt: skip


def _href(base: str, rel: str) -> str:
    joined = posixpath.normpath(posixpath.join(base, rel)) if base else rel
    return quote(joined, safe="/")


def _trial_links(
    trial_raw: Iterable[str], instance: str, base: str, files: frozenset[str] | None
) -> list[Link]:
    links = [
        Link(posixpath.basename(rel).rsplit(".", 1)[-1], _href(base, rel))
        for rel in trial_raw
        if _safe_rel(rel) and (files is None or rel in files)
    ]
    log = f"logs/{instance}.log"
    if files is not None and log in files and _safe_rel(log):
        links.append(Link("log", _href(base, log)))
    return links


def _raw_links(
    trials: Sequence[Trial],
    platforms: Sequence[str],
    base: str,
    files: frozenset[str] | None,
) -> list[tuple[str, list[tuple[str, list[Link]]]]]:
    """A workload's trials (in round order), by platform, with the links each one has."""
    by_platform: dict[str, list[tuple[str, list[Link]]]] = {}
    for t in trials:
        links = _trial_links(t.raw, t.instance, base, files)
        if links:
            by_platform.setdefault(t.platform, []).append((t.trial_id, links))
    order = [*platforms, *(p for p in by_platform if p not in platforms)]
    return [(p, by_platform[p]) for p in order if p in by_platform]


def _failed(run: RunData, base: str, files: frozenset[str] | None) -> list[dict[str, Any]]:
    return [
        {
            "trial": t.trial_id,
            "workload": t.workload,
            "platform": t.platform,
            "round": t.round,
            "warmup": t.warmup,
            "cause": t.cause or "-",
            "error": t.error or "-",
            "links": _trial_links(t.raw, t.instance, base, files),
        }
        for t in run.trials
        if t.status == "failed"
    ]


# --- environment and plan ---------------------------------------------------------------------


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, Mapping):
        out: list[tuple[str, str]] = []
        for key in data:
            out.extend(_flatten(data[key], f"{prefix}{key}" if not prefix else f"{prefix} / {key}"))
        return out
    if isinstance(data, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in data):
            return [(prefix, ", ".join(map(str, data)) or "-")]
        return [row for i, v in enumerate(data) for row in _flatten(v, f"{prefix} / {i}")]
    return [(prefix, "-" if data is None else str(data))]


def _workload_plans(run: RunData) -> list[dict[str, str]]:
    out = []
    for w in _plan_workloads(run):
        out.append(
            {
                "name": str(w["name"]),
                "kind": str(w.get("kind", "command")),
                "duration": f"{w.get('duration', '?')} s",
                "repeats": f"{w.get('repeats', '?')} + {w.get('warmup', 0)} warm-up",
                "file": f"{w['file_size_mib']} MiB" if w.get("file_size_mib") else "-",
                "platforms": ", ".join(map(str, w.get("platforms", []))),
                "metrics": ", ".join(map(str, (w.get("metrics") or {}).keys())),
                "hash": str(w.get("hash", "-")),
            }
        )
    return out


@dataclass(frozen=True)
class GateMethod:
    """The gate's thresholds and how often it is fooled (bench.analysis.calibration's table)."""

    alpha: float
    min_effect: float
    min_repeats: int
    effect: float
    ns: tuple[int, ...]
    distributions: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # path, false by n, power


def _gate_method() -> GateMethod:
    rates = calibration.stored()
    ns = tuple(sorted({r.n for r in rates if r.kind == "false"}))
    dists = tuple(dict.fromkeys(r.distribution for r in rates if r.kind == "power"))
    paths = tuple(dict.fromkeys(r.path for r in rates))

    def share(chosen: list[calibration.Rate]) -> str:
        hits, sims = sum(r.hits for r in chosen), sum(r.sims for r in chosen)
        return f"{hits / sims:.1%} ({hits}/{sims})" if sims else "-"

    rows = tuple(
        (
            path,
            tuple(
                share([r for r in rates if (r.path, r.kind, r.n) == (path, "false", n)]) for n in ns
            ),
            tuple(
                share([r for r in rates if (r.path, r.kind, r.distribution) == (path, "power", d)])
                for d in dists
            ),
        )
        for path in paths
    )
    return GateMethod(
        gate.ALPHA, gate.MIN_EFFECT, gate.MIN_REPEATS, calibration.EFFECT, ns, dists, rows
    )


def _event_rows(run: RunData) -> list[dict[str, str]]:
    return [
        {
            "when": time.strftime("%H:%M:%S", time.gmtime(e.at)) if e.at else "-",
            "kind": e.kind,
            "message": e.message,
            "advice": e.advice,
        }
        for e in run.events
    ]


# --- template -------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report", "templates"),
        autoescape=True,  # every string from run.json is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["svg"] = lambda chart: Markup(chart.svg)  # built by charts, never from input
    env.filters["slug"] = lambda text: re.sub(r"[^a-z0-9-]+", "-", str(text).lower())
    # Long metric names may break after an underscore, not mid-word, in a narrow column.
    env.filters["wbr"] = lambda text: Markup("_<wbr>").join(str(text).split("_"))
    return env


def _listed(run_dir: Path, folders: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for folder in folders:
        directory = run_dir / folder
        if directory.is_dir():
            found.update(f"{folder}/{name}" for name in os.listdir(directory))
    return frozenset(found)
