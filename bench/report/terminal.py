"""The terminal summary at the end of a run: per workload and metric, the median per
platform with its interval, and the overhead against native with its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analysis import gate, stats
from bench.analysis.claims import assess
from bench.core.platform_names import sort_platforms
from bench.data.results import RunData, load_run
from bench.data.run_meta import measured_frame
from bench.report import adaptive_view


def summary_frame(run: RunData) -> Any:
    """The statistics of the samples that count (collector series are the report's)."""
    frame = measured_frame(run)
    if frame.empty:
        return frame
    return adaptive_view.overlay(run, stats.summarize(frame, min_effects=run.run_meta.min_effects))


def gate_not_armed(table: Any) -> str:
    """A line when some figures had too few repeats for any verdict: never a silent pass."""
    compared = table.loc[table["verdict"] != "baseline"]
    few = compared.loc[compared["code"] == str(gate.Reason.TOO_FEW_REPEATS)]
    if few.empty:
        return ""
    return (
        f"{len(few)} of {len(compared)} figures have fewer than {gate.DEFAULT.min_repeats}"
        " repeats a side: the gate is not armed for them (inconclusive, whatever the figures);"
        f" --repeats {gate.DEFAULT.min_repeats} or more arms it"
    )


def _cell(row: Any) -> str:
    if row["n"] == 0:
        return "-"
    text = f"{row['median']:.4g}"
    if row["n"] >= 2 and row["ci_high"] == row["ci_high"]:  # not NaN
        text += f" [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"
    if row["platform"] != "native" and row["overhead_pct"] == row["overhead_pct"]:
        text += f"\n{row['overhead_pct']:+.1f}% {row['verdict']}"
    return text


def claim_lines(run: RunData) -> list[str]:
    """One line per claim: its id, verdict and the figures that decided it (or why not)."""
    verdicts = assess(run)
    width = max(len(v.verdict) for v in verdicts)
    lines = ["claims (the report's Claims section says why):"]
    for v in verdicts:
        shown = v.key or f"to measure: {v.how}"
        lines.append(f"  {v.id:<4}{v.verdict:<{width}}  {shown}".rstrip())
    return lines


def print_summary(directory: Path, quiet: bool = False) -> None:
    run = load_run(directory)
    console = Console(stderr=quiet)
    table_data = summary_frame(run)
    failed = [t for t in run.trials if t.status == "failed"]
    if run.run_meta.tcg:
        console.print(
            "[bold yellow]accel=tcg: the VM figures measure software emulation,"
            " not hardware virtualisation[/]"
        )
    if len(table_data):
        platforms = sort_platforms(table_data["platform"].astype(str))
        table = Table(
            title=f"run {run.run_id}: median [95% CI], overhead vs native", show_lines=True
        )
        table.add_column("workload")
        table.add_column("metric")
        for p in platforms:
            table.add_column(p, justify="right")
        for (workload, metric), group in table_data.groupby(["workload", "metric"], sort=False):
            cells = {row["platform"]: _cell(row) for _, row in group.iterrows()}
            unit = group["unit"].iloc[0]
            table.add_row(workload, f"{metric} ({unit})", *(cells.get(p, "-") for p in platforms))
        console.print(table)
        unjudged = gate_not_armed(table_data)
        if unjudged:
            console.print(f"[yellow]{unjudged}[/]")
    for line in adaptive_view.lines(run):
        console.print(line, markup=False, highlight=False)
    for line in claim_lines(run):
        console.print(line, markup=False, highlight=False, no_wrap=True, overflow="ellipsis")
    for warning in run.warnings:
        console.print(f"[yellow]reader:[/] {warning}")
    for event in run.events:
        if event.kind in ("warning", "dropped-platform", "skipped"):
            console.print(f"[yellow]{event.kind}:[/] {event.message} ({event.advice})")
    if failed:
        console.print(
            f"[red]{len(failed)} trial(s) failed[/]: "
            + "; ".join(f"{t.trial_id} ({t.cause})" for t in failed[:5])
        )
