"""The run page's warnings: the TCG banner and the notices (run, event, reader and
stability warnings, grouped by kind)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import pandas as pd

from bench.analysis import stability
from bench.data.results import Event, RunData


@dataclass(frozen=True)
class Notice:
    """A warning as the banner shows it: what, about what, and what to do."""

    code: str
    level: str  # "alert" (the figures are compromised) or "warn"
    message: str
    advice: str
    subjects: tuple[tuple[str, str], ...] = ()  # (subject, its own message)


def tcg_banner(run: RunData) -> dict[str, str]:
    reason = run.run_meta.accel_reason
    emulated = stability.run_warnings(failed_trials=0, total_trials=0, busy=[], accel="tcg")[0]
    return {"message": emulated.message, "advice": emulated.advice, "reason": str(reason)}


def _busy_reasons(run: RunData) -> list[str]:
    found = []
    for event in run.events:
        if event.kind == "warning" and event.data.get("code") == "busy-host":
            found.append(re.sub(r"^busy host:\s*", "", event.message))
    return found


def run_notices(run: RunData, frame: pd.DataFrame, accel: str) -> list[Notice]:
    """Every warning of the run, grouped by kind; the TCG one has its own banner."""
    failed = sum(t.status == "failed" for t in run.trials)
    out: list[Notice] = []
    for w in stability.run_warnings(
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
        out.extend(_grouped(stability.stability_warnings(frame)))
    return out


# Warnings a run can give once per trial: one notice each, its trials listed under it.
PER_TRIAL: Final = {
    "collector-error": "collectors failed during some trials: their resource series are short"
    " or missing, the workload's figures stand",
}


def _event_notices(run: RunData) -> list[Notice]:
    out = []
    per_trial: dict[str, list[Event]] = {}
    for event in run.events:
        code = str(event.data.get("code", event.kind))
        if event.kind == "dropped-platform":
            out.append(Notice("dropped-platform", "alert", event.message, event.advice))
        elif event.kind == "reaped":
            removed = tuple((str(x), "") for x in event.data.get("removed", ()))
            advice = event.advice or "nothing to do: they were removed before the first trial"
            out.append(Notice("reaped", "warn", event.message, advice, removed))
        elif event.kind == "warning" and code in PER_TRIAL:
            per_trial.setdefault(code, []).append(event)
        elif event.kind == "warning" and code != "busy-host":
            out.append(Notice(code, "warn", event.message, event.advice))
    for code, events in per_trial.items():
        subjects = tuple(
            (str(e.data.get("trial_id", "")), e.message.split(": ", 1)[-1]) for e in events
        )
        message = f"{PER_TRIAL[code]} ({len(events)} trial{'s' if len(events) > 1 else ''})"
        out.append(Notice(code, "warn", message, events[0].advice, subjects))
    skipped = [e for e in run.events if e.kind == "skipped"]
    if skipped:
        out.append(_skipped_notice(skipped))
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


def _skipped_notice(events: list[Event]) -> Notice:
    """The blank cells explained: each workload a platform of the run cannot run, and why."""
    subjects = tuple(
        (f"{e.data.get('workload')} on {e.data.get('platform')}", str(e.data.get("reason", "")))
        for e in events
    )
    count = len(events)
    return Notice(
        "skipped",
        "warn",
        f"{count} workload/platform pair{'s' if count > 1 else ''} not run: the platform"
        " cannot run the workload (each reason below); its cells are blank, not failed",
        events[0].advice,
        subjects,
    )


def _grouped(warnings: Iterable[stability.StatWarning]) -> list[Notice]:
    """One notice per kind of stability warning: a short run has dozens of "few repeats"."""
    groups: dict[str, list[stability.StatWarning]] = {}
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
