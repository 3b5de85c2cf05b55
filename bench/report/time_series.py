"""The memory and CPU of one trial over time: which trial each workload and platform plots,
its readings from timeseries.jsonl, and the chart of them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from bench.data.results import RunData
from bench.report import charts

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
MIB: Final = 1024.0 * 1024.0


@dataclass(frozen=True)
class Reading:
    """One line of timeseries.jsonl."""

    t: float
    source: str
    values: Mapping[str, float]


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


def series_figure(
    key: str,
    workload: str,
    picks: Mapping[str, str],
    series: Mapping[str, Sequence[Reading]],
    platforms: Sequence[str],
) -> tuple[charts.Chart, str] | None:
    """The memory and CPU chart of a workload's plotted trials, and its caption; None when
    no platform's readings draw a line."""
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
    return chart, caption
