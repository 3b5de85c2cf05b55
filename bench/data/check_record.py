"""The record of a run's regression check (results/<run-id>/check.json): written once when the
run ends, read by the report, the history page, the Markdown export and the next night's check.

Why stored, not recomputed: the check depends on which earlier runs the results directory held
when it ran, and the next night must confirm tonight's suspects against the very history they
were screened on. Versioned like run.json: a reader refuses a version it does not know, and
saying what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.core.paths import atomic_path
from bench.data.results import ResultsError

CHECK_FILE: Final = "check.json"
CHECK_VERSION: Final = 1
# run.json's mark of a confirmation run (`vcbench run --confirm`): {"run_id": ..., "replicate": i}.
# Such a run shares the night of the run it confirms: it joins no history and is never checked.
CONFIRMS: Final = "confirms"


def is_confirmation(meta: Mapping[str, Any]) -> bool:
    return isinstance(meta.get(CONFIRMS), Mapping)


@dataclass(frozen=True)
class FigureCheck:
    """One figure of the run against its history, as screened (and confirmed, if it was)."""

    workload: str
    metric: str
    platform: str
    unit: str
    higher_is_better: bool
    min_effect: float
    median: float  # this run's median
    n_history: int  # comparable earlier runs it was judged against
    centre: float  # their mean log median
    spread: float  # their standard deviation of log medians: the noise between runs
    change: float  # this run against the history, a fraction, positive = worse
    p: float  # two-sided prediction p (NaN while learning)
    low: float  # the history's prediction interval, in the figure's unit
    high: float
    status: str  # bench.analysis.run_level.RunStatus
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.workload, self.metric, self.platform)

    @property
    def subject(self) -> str:
        return f"{self.workload} {self.metric} {self.platform}"


@dataclass(frozen=True)
class ConfirmationRecord:
    """A suspect of `of_run`, tested on fresh runs (`by_runs`): this run's own confirmation
    runs, or this run itself confirming the previous night's suspects."""

    of_run: str
    workload: str
    metric: str
    platform: str
    unit: str
    screened_change: float
    change: float
    p: float  # one-sided, in the screened direction
    p_adjusted: float  # times the family: every figure that could have been confirmed that night
    runs: int
    status: str  # confirmed or not confirmed
    reason: str
    by_runs: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.workload, self.metric, self.platform)

    @property
    def worse(self) -> bool:
        return self.status == "confirmed" and self.change > 0


@dataclass(frozen=True)
class CheckRecord:
    run_id: str
    policy: Mapping[str, Any]  # the gate's Policy the check ran with
    figures: tuple[FigureCheck, ...]
    confirmations: tuple[ConfirmationRecord, ...] = ()
    confirm_runs: tuple[str, ...] = ()  # the fresh runs this run measured to confirm its suspects
    history_runs: tuple[str, ...] = ()  # every earlier run some figure was judged against
    notes: tuple[str, ...] = field(default_factory=tuple)  # what the reader should know

    @property
    def regressed(self) -> bool:
        return any(c.worse for c in self.confirmations)

    @property
    def open_suspects(self) -> tuple[FigureCheck, ...]:
        """Suspects that no fresh run has settled yet: the next comparable run confirms them.
        A suspect whose figure this run just confirmed as the previous run's change is that same
        change, already called: carrying it would raise the alarm twice."""
        called = {c.key for c in self.confirmations if c.status == "confirmed"}
        return tuple(f for f in self.figures if f.status == "suspect" and f.key not in called)


def write_check(directory: Path, record: CheckRecord) -> Path:
    target = directory / CHECK_FILE
    data = {"version": CHECK_VERSION, **asdict(record)}
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=1, allow_nan=True) + "\n")
    return target


def read_check(directory: Path) -> CheckRecord | None:
    """The run's check, or None when it has none (an older run, or one never checked)."""
    path = directory / CHECK_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ResultsError(
            f"{path}: unreadable ({exc})", "delete it; the next run checks anew"
        ) from None
    version = data.get("version") if isinstance(data, Mapping) else None
    if version != CHECK_VERSION:
        raise ResultsError(
            f"{path}: check record version {version!r} is not the one this vcbench reads"
            f" ({CHECK_VERSION})",
            "read it with the vcbench that wrote it, or delete it to check the run anew",
        )
    try:
        return CheckRecord(
            run_id=str(data["run_id"]),
            policy=dict(data.get("policy") or {}),
            figures=tuple(FigureCheck(**f) for f in data.get("figures", [])),
            confirmations=tuple(
                ConfirmationRecord(**{**c, "by_runs": tuple(c.get("by_runs", ()))})
                for c in data.get("confirmations", [])
            ),
            confirm_runs=tuple(data.get("confirm_runs", ())),
            history_runs=tuple(data.get("history_runs", ())),
            notes=tuple(data.get("notes", ())),
        )
    except (KeyError, TypeError) as exc:
        raise ResultsError(
            f"{path}: a check record field is missing or wrong ({exc})",
            "delete it; the next run checks anew",
        ) from None


def confirmed_keys(records: Sequence[CheckRecord]) -> dict[tuple[str, str, str], str]:
    """Per figure, the run at which its newest confirmed change happened (where its history
    starts anew): a run's own confirmed figure, or the earlier run whose suspect it confirmed."""
    starts: dict[tuple[str, str, str], str] = {}
    for record in records:  # oldest first: the newest wins
        for f in record.figures:
            if f.status == "confirmed":
                starts[f.key] = record.run_id
        for c in record.confirmations:
            if c.status == "confirmed":
                starts[c.key] = c.of_run
    return starts
