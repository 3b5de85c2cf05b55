"""The regression check that ends `vcbench run`: every figure of the run against the host's own
history of comparable runs, the run as the unit (bench.analysis.run_level), screen then confirm.

The history: earlier finished runs on this host with the same suite and workload definitions,
in an environment compare accepts (accel, CPU, kernel, rootfs, limits), that the harness did
not flag (a busy host), newest `history_window` of them; per figure, only runs whose trials of
it all succeeded, and none before its last confirmed change. Confirmation runs (`--confirm`)
are never history: they share the night of the run they confirm.

What can end a run with exit 3 is a *confirmed* worse figure: one of this run's suspects
confirmed by its own fresh confirmation runs, or one of the previous run's open suspects
confirmed by this run. Suspects alone are shown, never acted on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.analysis import gate
from bench.analysis.run_check import History, Key, RunFigures, check
from bench.analysis.run_level import RunStatus
from bench.data.check_record import (
    CheckRecord,
    ConfirmationRecord,
    FigureCheck,
    is_confirmation,
    read_check,
)
from bench.data.results import (
    RUN_FILE,
    ResultsError,
    RunData,
    load_run,
    read_meta,
    stops_and_starts,
)
from bench.data.run_meta import check_comparable, measured_frame, parse_meta
from bench.report.regression_view import learning_line

# A one-screen summary: the figures beyond this many are counted, not listed.
MAX_LISTED: Final = 8


@dataclass(frozen=True)
class Candidate:
    """An earlier run as the history search sees it: its run.json and whether it finished."""

    directory: Path
    meta: Mapping[str, Any]
    finished: bool


def identity(meta: Mapping[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What two runs must share to be judged against each other: host, suite, and each
    workload's name and definition hash (as RunMeta reads them from run.json)."""
    run = parse_meta(meta)
    hashes = sorted((str(w.get("name")), str(w.get("hash"))) for w in run.workloads)
    return (run.host, run.suite, tuple(hashes))


def created(meta: Mapping[str, Any]) -> float:
    return parse_meta(meta).created


def comparable_before(current: Mapping[str, Any], pool: Sequence[Candidate]) -> list[Candidate]:
    """The finished, comparable, primary runs created before `current`, oldest first."""
    mine = identity(current)
    before = created(current)
    fitting = [
        c
        for c in pool
        if c.finished
        and not is_confirmation(c.meta)
        and c.meta.get("run_id") != current.get("run_id")
        and created(c.meta) < before
        and identity(c.meta) == mine
        and not check_comparable(c.meta, current)
    ]
    return sorted(fitting, key=lambda c: (created(c.meta), str(c.meta.get("run_id"))))


def candidates(results_root: Path, exclude: Path) -> list[Candidate]:
    """Every other run under results_root whose run.json reads; unreadable ones are no history."""
    found = []
    for directory in sorted(results_root.iterdir()) if results_root.is_dir() else []:
        if directory.name.startswith(".") or not (directory / RUN_FILE).is_file():
            continue
        if directory.resolve() == exclude.resolve():
            continue
        try:
            finished = "finished" in stops_and_starts(directory)
            found.append(Candidate(directory, read_meta(directory), finished))
        except (ResultsError, OSError):
            continue
    return found


# --- one number per run and figure, and the history ----------------------------------------


def flag_of(run: RunData) -> str:
    """Why a run's figures cannot stand for the host's usual noise: the harness saw it busy."""
    for event in run.events:
        if event.kind == "warning" and event.data.get("code") == "busy-host":
            return f"flagged: {event.message}"
    return ""


def run_figures(run: RunData) -> RunFigures:
    """The log median of every figure whose measured trials all succeeded in this run."""
    frame = measured_frame(run)
    failed = {(t.workload, t.platform) for t in run.trials if t.status == "failed"}
    logs: dict[Key, float] = {}
    units: dict[Key, tuple[str, bool]] = {}
    if not frame.empty:
        grouped = frame.groupby(["workload", "metric", "platform"], sort=False)
        for (workload, metric, platform), group in grouped:
            key = (str(workload), str(metric), str(platform))
            if (key[0], key[2]) in failed:
                continue
            median = float(np.median(group["value"].to_numpy(dtype=np.float64)))
            logs[key] = math.log(median) if median > 0 and math.isfinite(median) else math.nan
            units[key] = (str(group["unit"].iloc[0]), bool(group["higher_is_better"].iloc[0]))
    return RunFigures(run.run_id, logs, units, flag_of(run))


def load_history(current: Mapping[str, Any], pool: Sequence[Candidate]) -> History:
    chosen = comparable_before(current, pool)
    runs: list[RunFigures] = []
    records: list[CheckRecord | None] = []
    for candidate in chosen:
        try:
            runs.append(run_figures(load_run(candidate.directory)))
            records.append(read_check(candidate.directory))
        except (ResultsError, OSError):
            continue  # unreadable: no history
    previous = records[-1] if records else None
    return History(tuple(runs), tuple(records), previous)


def check_run(
    run_dir: Path,
    results_root: Path,
    confirm_dirs: Sequence[Path] = (),
    policy: gate.Policy = gate.DEFAULT,
) -> CheckRecord:
    """The run in run_dir against its history under results_root (and its confirmation runs)."""
    run = load_run(run_dir)
    history = load_history(run.meta, candidates(results_root, exclude=run_dir))
    fresh = [run_figures(load_run(d)) for d in confirm_dirs]
    return check(run_figures(run), history, run.run_meta.min_effects, fresh, policy)


# --- the words ----------------------------------------------------------------------------------


def _figure_line(f: FigureCheck) -> str:
    return (
        f"  {f.subject}: {f.median:.4g} {f.unit} ({f.change * 100:+.1f}% worse than the"
        f" history's {math.exp(f.centre):.4g}, interval [{f.low:.4g}, {f.high:.4g}],"
        f" {f.n_history} runs, p={f.p:.2g})"
    )


def _confirmation_line(c: ConfirmationRecord) -> str:
    word = "worse" if c.change > 0 else "better"
    return f"  {c.status} {word}: {c.workload} {c.metric} {c.platform} (of {c.of_run}): {c.reason}"


def _listed(lines: list[str]) -> list[str]:
    if len(lines) > MAX_LISTED:
        return [*lines[:MAX_LISTED], f"  ... and {len(lines) - MAX_LISTED} more"]
    return lines


def verdict_lines(record: CheckRecord, policy: gate.Policy = gate.DEFAULT) -> tuple[str, ...]:
    """The check in a few lines: the counts, the suspects, the confirmations, the verdict."""
    figures = record.figures
    if not figures:
        return ("regression check: this run has no figure to judge",)
    counts: dict[str, int] = {}
    for f in figures:
        counts[f.status] = counts.get(f.status, 0) + 1
    learning = [f for f in figures if f.status == RunStatus.LEARNING]
    judged = len(figures) - len(learning)
    head = (
        f"regression check (run level: each figure against this host's earlier comparable runs,"
        f" {len(record.history_runs)} in all): "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    lines = [head]
    if learning:
        lines.append(f"  {learning_line(figures, policy)}")
    suspects = [f for f in figures if f.status == RunStatus.SUSPECT]
    if suspects:
        lines.append(
            f"  {len(suspects)} suspect(s), shown, not acted on: fresh runs confirm or clear them"
            " (`vcbench run --confirm` in the same job, else the next run)"
        )
        lines += _listed([_figure_line(f) for f in sorted(suspects, key=lambda f: -f.change)])
    lines += _listed([_confirmation_line(c) for c in record.confirmations])
    lines += [f"  note: {n}" for n in record.notes]
    if record.regressed:
        worse = [c for c in record.confirmations if c.worse]
        lines.append(
            f"REGRESSION: {len(worse)} figure(s) confirmed worse on fresh runs (exit 3):"
            f" {', '.join(f'{c.workload} {c.metric} {c.platform}' for c in worse)}"
        )
    elif judged == 0:
        lines.append("no regression can be called until the history is long enough (exit 0)")
    return tuple(lines)


__all__ = [
    "Candidate",
    "History",
    "RunFigures",
    "candidates",
    "check",
    "check_run",
    "comparable_before",
    "identity",
    "load_history",
    "run_figures",
    "verdict_lines",
]
