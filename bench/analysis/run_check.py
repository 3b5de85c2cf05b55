"""A run against its history, pure: the screen of every figure, then one Holm family of
confirmations (this run's suspects on its own fresh runs, the previous run's open suspects on
this run), as the CheckRecord the report, the history page and the next night read.

The statistics are bench.analysis.run_level's; this module only decides which numbers meet:
per figure the newest `history_window` unflagged runs since its last confirmed change. The
calibration (bench.analysis.calibration_nightly) drives these same functions on simulated
nights; bench.report.regression_check feeds them the results directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from bench.analysis import gate
from bench.analysis.run_level import (
    RunStatus,
    Suspect,
    confirm,
    learning_text,
    screen,
)
from bench.data.check_record import (
    CheckRecord,
    ConfirmationRecord,
    FigureCheck,
    confirmed_keys,
)

Key = tuple[str, str, str]  # workload, metric, platform


@dataclass(frozen=True)
class RunFigures:
    """A run as the check reads it: per figure the log of its median, and its flags."""

    run_id: str
    logs: Mapping[Key, float]
    units: Mapping[Key, tuple[str, bool]]  # unit, higher_is_better
    flagged: str  # why the whole run is kept out of histories ("" if it is not)


@dataclass(frozen=True)
class History:
    """The earlier runs a check reads: their figures (oldest first) and check records."""

    runs: tuple[RunFigures, ...]
    records: tuple[CheckRecord | None, ...]
    previous: CheckRecord | None  # the newest earlier run's record: its open suspects


def screen_run(
    tonight: RunFigures,
    history: History,
    effects: Mapping[tuple[str, str], float],
    policy: gate.Policy = gate.DEFAULT,
) -> tuple[list[FigureCheck], tuple[str, ...]]:
    """Every figure of tonight's run screened against its own history; the run ids used."""
    keys = sorted(tonight.logs)
    starts = confirmed_keys([r for r in history.records if r is not None])
    order = {r.run_id: i for i, r in enumerate(history.runs)}
    rows: list[list[float]] = []
    used: set[str] = set()
    for key in keys:
        begin = order.get(starts.get(key, ""), 0)
        values = [
            (r.run_id, r.logs[key])
            for r in history.runs[begin:]
            if not r.flagged and key in r.logs and math.isfinite(r.logs[key])
        ][-policy.history_window :]
        used.update(run_id for run_id, _ in values)
        rows.append([v for _, v in values])
    width = max((len(r) for r in rows), default=0)
    matrix = np.full((len(keys), max(width, 1)), np.nan)
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = row
    hib = np.array([tonight.units[k][1] for k in keys], dtype=bool)
    effect = np.array([effects.get((k[0], k[1]), policy.min_effect) for k in keys])
    logs = np.array([tonight.logs[k] for k in keys], dtype=np.float64)
    result = screen(matrix, logs, hib, effect, policy)
    figures = [
        FigureCheck(
            workload=k[0],
            metric=k[1],
            platform=k[2],
            unit=tonight.units[k][0],
            higher_is_better=bool(hib[i]),
            min_effect=float(effect[i]),
            median=math.exp(logs[i]) if math.isfinite(logs[i]) else math.nan,
            n_history=int(result.n_history[i]),
            centre=float(result.centre[i]),
            spread=float(result.spread[i]),
            change=float(result.change[i]),
            p=float(result.p[i]),
            low=float(result.low[i]),
            high=float(result.high[i]),
            status=str(result.status[i]),
            reason=_screen_reason(result.status[i], int(result.n_history[i]), policy),
        )
        for i, k in enumerate(keys)
    ]
    return figures, tuple(sorted(used))


def _screen_reason(status: RunStatus, n_history: int, policy: gate.Policy) -> str:
    if status is RunStatus.LEARNING:
        return learning_text(n_history, policy)
    if status is RunStatus.BAD_NUMBERS:
        return "this run's median is not a positive number: no log to judge"
    if status is RunStatus.SUSPECT:
        return (
            "outside the history's prediction interval and beyond the minimum effect:"
            " awaits fresh runs"
        )
    return "within the history's prediction interval, or below the minimum effect"


def _suspect(f: FigureCheck) -> Suspect:
    return Suspect(f.n_history, f.centre, f.spread, f.change, f.higher_is_better, f.min_effect)


def _screened(figures: Sequence[FigureCheck]) -> int:
    """How many figures the screen judged: each could have become a suspect, so each counts
    in the confirmation's family."""
    return sum(f.status not in (RunStatus.LEARNING, RunStatus.BAD_NUMBERS) for f in figures)


def check(
    tonight: RunFigures,
    history: History,
    effects: Mapping[tuple[str, str], float],
    confirmations: Sequence[RunFigures] = (),
    policy: gate.Policy = gate.DEFAULT,
) -> CheckRecord:
    """Screen tonight's run; confirm, as one family, tonight's suspects on its own fresh
    confirmation runs (if it measured any) and the previous run's open suspects on tonight."""
    figures, used = screen_run(tonight, history, effects, policy)
    notes: list[str] = []
    family: list[tuple[str, FigureCheck, list[float], tuple[str, ...]]] = []
    size = 0  # every figure that could have been confirmed tonight: the Bonferroni family
    if confirmations:
        size += _screened(figures)
        usable = [c for c in confirmations if not c.flagged]
        if len(usable) < len(confirmations):
            notes.append(
                f"{len(confirmations) - len(usable)} confirmation run(s) flagged (busy host):"
                " left out of the confirmation"
            )
        by = tuple(c.run_id for c in usable)
        for f in figures:
            if f.status == RunStatus.SUSPECT:
                fresh = [c.logs[f.key] for c in usable if f.key in c.logs]
                family.append((tonight.run_id, f, fresh, by))
    previous = history.previous
    if previous is not None and previous.open_suspects:
        if tonight.flagged:
            notes.append(
                f"{len(previous.open_suspects)} open suspect(s) of {previous.run_id} not"
                f" confirmed on this run: it is {tonight.flagged}"
            )
        else:
            size += _screened(previous.figures)
            for f in previous.open_suspects:
                fresh = [tonight.logs[f.key]] if f.key in tonight.logs else []
                family.append((previous.run_id, f, fresh, (tonight.run_id,)))
    suspects = [_suspect(f) for _, f, _, _ in family]
    outcomes = confirm(suspects, [v for _, _, v, _ in family], size, policy)
    records = tuple(
        ConfirmationRecord(
            of_run=of,
            workload=f.workload,
            metric=f.metric,
            platform=f.platform,
            unit=f.unit,
            screened_change=f.change,
            change=o.change,
            p=o.p,
            p_adjusted=o.p_adjusted,
            runs=o.runs,
            status=str(o.status),
            reason=o.reason,
            by_runs=by,
        )
        for (of, f, _, by), o in zip(family, outcomes, strict=True)
    )
    settled = {r.key: r.status for r in records if r.of_run == tonight.run_id}
    figures = [replace(f, status=settled[f.key]) if f.key in settled else f for f in figures]
    if tonight.flagged:
        notes.append(f"this run is {tonight.flagged}: it joins no later run's history")
    return CheckRecord(
        run_id=tonight.run_id,
        policy=asdict(policy),
        figures=tuple(figures),
        confirmations=records,
        confirm_runs=tuple(c.run_id for c in confirmations),
        history_runs=used,
        notes=tuple(notes),
    )
