"""The run page's summary table (a row per workload and metric, a cell per platform: median,
interval, overhead, verdict) and its rows against published references."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.analysis.claims.references import references_for
from bench.data.results import RunData
from bench.report.run_frames import frame_records, workload_order


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


def number_text(value: Any) -> str:
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
    interval = (
        f"[{number_text(low)}\u2013{number_text(high)}]" if n >= 2 and math.isfinite(low) else ""
    )
    verdict = str(row["verdict"])
    overhead = (
        ""
        if verdict == "baseline"
        else _overhead_text(float(row["overhead_pct"]), float(row["ratio"]))
    )
    return Cell(
        f"{number_text(float(row['median']) * factor)}{unit}",
        f"{interval} n={n}".strip(),
        overhead,
        verdict,
        str(row["reason"]),
    )


def summary_groups(run: RunData, summary: pd.DataFrame, platforms: Sequence[str]) -> list[Group]:
    """The summary table: workloads in the plan's order, metrics in the order measured."""
    if summary.empty:
        return []
    by_metric: dict[str, dict[str, dict[str, Mapping[str, Any]]]] = {}
    for rec in frame_records(summary):
        metrics = by_metric.setdefault(str(rec["workload"]), {})
        metrics.setdefault(str(rec["metric"]), {})[str(rec["platform"])] = rec
    groups = []
    for workload in workload_order(run, summary):
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


def reference_rows(summary: pd.DataFrame, accel: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    if summary.empty:
        return out
    index = {
        (str(r["workload"]), str(r["metric"]), str(r["platform"])): r
        for r in frame_records(summary)
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
