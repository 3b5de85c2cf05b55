"""What the report, the history page and the Markdown summary show of the run-level regression
check: the run's stored check (check.json) as rows, and the check's calibration for the Method
section. Pure: a record in, rows out; the wording of a status lives here once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bench.analysis import calibration_nightly, gate, run_level
from bench.analysis.run_level import RunStatus
from bench.data.check_record import CheckRecord, ConfirmationRecord, FigureCheck, read_check
from bench.data.results import ResultsError, RunData

# What each status tells a reader, in one place for the page, the index and the summary.
MEANING: Final = {
    RunStatus.LEARNING: "too few comparable earlier runs to know this host's noise yet",
    RunStatus.IN_RANGE: "within the noise between this host's runs",
    RunStatus.SUSPECT: "outside the history: shown, not acted on, until fresh runs confirm it",
    RunStatus.CONFIRMED: "confirmed by fresh runs",
    RunStatus.NOT_CONFIRMED: "fresh runs did not repeat it: noise between runs",
    RunStatus.BAD_NUMBERS: "not a positive number: nothing to judge",
}


@dataclass(frozen=True)
class FigureRow:
    subject: str
    status: str
    median: str
    history: str  # the history's centre and prediction interval
    change: str
    n_history: int
    reason: str
    worse: bool


@dataclass(frozen=True)
class RegressionView:
    counts: tuple[tuple[str, int], ...]
    rows: tuple[FigureRow, ...]  # what a reader must see: suspects and confirmations
    learning: str  # a line when figures are still learning ("" otherwise)
    regressed: bool
    confirm_runs: tuple[str, ...]
    notes: tuple[str, ...]
    error: str = ""  # the record could not be read


def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "-"


def _change(x: float) -> str:
    return f"{x * 100:+.1f}% worse" if x >= 0 else f"{-x * 100:.1f}% better"


def _figure_row(f: FigureCheck) -> FigureRow:
    centre = math.exp(f.centre) if math.isfinite(f.centre) else math.nan
    return FigureRow(
        subject=f.subject,
        status=f.status,
        median=f"{_num(f.median)} {f.unit}",
        history=f"{_num(centre)} [{_num(f.low)}, {_num(f.high)}]",
        change=_change(f.change) if math.isfinite(f.change) else "-",
        n_history=f.n_history,
        reason=f.reason,
        worse=f.change > 0,
    )


def _confirmation_row(c: ConfirmationRecord) -> FigureRow:
    return FigureRow(
        subject=f"{c.workload} {c.metric} {c.platform}",
        status=f"{c.status} (suspect of {c.of_run})",
        median="-",
        history="-",
        change=_change(c.change) if math.isfinite(c.change) else "-",
        n_history=0,
        reason=c.reason,
        worse=c.change > 0,
    )


def learning_line(figures: Sequence[FigureCheck], policy: gate.Policy = gate.DEFAULT) -> str:
    learning = [f for f in figures if f.status == RunStatus.LEARNING]
    if not learning:
        return ""
    fewest = min(f.n_history for f in learning)
    return (
        f"{len(learning)} of {len(figures)} figures are still learning this host's noise between"
        f" runs: {fewest} comparable earlier run(s), {policy.min_history - fewest} more needed"
        " before a regression can be called on them"
    )


def view(record: CheckRecord) -> RegressionView:
    counts: dict[str, int] = {}
    for f in record.figures:
        counts[f.status] = counts.get(f.status, 0) + 1
    shown = [f for f in record.figures if f.status in (RunStatus.SUSPECT, RunStatus.CONFIRMED,
                                                       RunStatus.NOT_CONFIRMED)]  # fmt: skip
    carried = [c for c in record.confirmations if c.of_run != record.run_id]
    return RegressionView(
        counts=tuple(sorted(counts.items())),
        rows=tuple([_figure_row(f) for f in shown] + [_confirmation_row(c) for c in carried]),
        learning=learning_line(record.figures),
        regressed=record.regressed,
        confirm_runs=record.confirm_runs,
        notes=record.notes,
    )


def run_view(run: RunData) -> RegressionView | None:
    """The run's check as the page shows it; None when the run was never checked."""
    try:
        record = read_check(run.directory)
    except ResultsError as exc:
        return RegressionView((), (), "", False, (), (), error=exc.one_line())
    return view(record) if record is not None else None


def badge(record: CheckRecord | None) -> str:
    """A few words for the history index: what the run's check found."""
    if record is None:
        return ""
    worse = sum(c.worse for c in record.confirmations)
    if worse:
        return f"{worse} confirmed worse"
    suspects = sum(f.status == RunStatus.SUSPECT for f in record.figures)
    if suspects:
        return f"{suspects} suspect(s)"
    if record.figures and all(f.status == RunStatus.LEARNING for f in record.figures):
        return "learning"
    return "in range"


@dataclass(frozen=True)
class NightlyMethod:
    rule: str
    rows: tuple[tuple[str, str], ...]  # what was measured, the rate


def nightly_method() -> NightlyMethod:
    """The check's rule and its calibration, for the Method section."""
    rates = calibration_nightly.stored()

    def share(chosen: Sequence[calibration_nightly.NightRate]) -> str:
        hits, nights = sum(r.hits for r in chosen), sum(r.nights for r in chosen)
        return f"{hits / nights:.1%} ({hits}/{nights})" if nights else "-"

    rows: list[tuple[str, str]] = []
    for mode in calibration_nightly.MODES:
        for length in sorted({r.history for r in rates if r.kind == "false"}):
            chosen = [r for r in rates if (r.kind, r.mode, r.history) == ("false", mode, length)]
            what = "with --confirm" if mode == "confirm" else "confirmed by the next run"
            rows.append(
                (f"quiet nights ending in exit 3, {what}, {length} runs of history", share(chosen))
            )
    for step in sorted({r.step for r in rates if r.kind == "power"}, reverse=True):
        chosen = [r for r in rates if r.kind == "power" and r.step == step]
        worst = max(r.run_effect for r in chosen)
        rows.append(
            (
                f"a {step:.0%} step caught within two nights (--confirm, noise between runs up"
                f" to {worst:.1%})",
                share(chosen),
            )
        )
    old = [r for r in rates if r.kind == "per_figure_gate"]
    if old:
        rows.append(
            ("quiet nights the old per-figure check (repeats within a run) ended red", share(old))
        )
    return NightlyMethod(run_level.rule_text(), tuple(rows))
