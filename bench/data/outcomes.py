"""How each claim experiment of a run ended, and which of its records count. Pure: reads
RunData, imports no platform, so the claims and the report may use it.

Every attempt of an experiment stamps its records with detail["attempt"] and ends with an
Event of kind "experiment" (data: name, status ok|failed, cause, attempt, records). An
attempt cut short (Ctrl-C, a killed run) has records and no event; `--resume` runs the
experiment again, and only the last attempt's records count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.data.results import Event, ExperimentRecord, RunData

EVENT_KIND = "experiment"


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # ok, failed, or interrupted (records but no end: the run was cut short)
    cause: str = ""  # one line, for failed
    records: int = 0
    attempt: float = 0.0


def ended(events: Iterable[Event]) -> dict[str, Outcome]:
    """Experiment name -> how its last attempt ended, from the run's events."""
    found: dict[str, Outcome] = {}
    for event in events:
        if event.kind != EVENT_KIND:
            continue
        data = event.data
        found[str(data["name"])] = Outcome(
            str(data["name"]),
            str(data["status"]),
            str(data.get("cause", "")),
            int(data.get("records", 0)),
            float(data.get("attempt", 0.0)),
        )
    return found


def outcomes(run: RunData) -> dict[str, Outcome]:
    """Every experiment the run holds anything of: ended ones, and interrupted ones."""
    found = ended(run.events)
    for name, attempt in _last_attempts(run.experiments).items():
        if name not in found or found[name].attempt < attempt:
            count = sum(1 for r in run.experiments if r.experiment == name and _of(r) == attempt)
            found[name] = Outcome(name, "interrupted", records=count, attempt=attempt)
    return found


def current_records(run: RunData) -> tuple[ExperimentRecord, ...]:
    """The records of each experiment's last attempt: what the claims should read."""
    last = _last_attempts(run.experiments)
    for name, outcome in ended(run.events).items():
        last[name] = max(last.get(name, 0.0), outcome.attempt)
    return tuple(r for r in run.experiments if _of(r) == last.get(r.experiment, 0.0))


def _of(record: ExperimentRecord) -> float:
    return float(record.detail.get("attempt", 0.0))


def _last_attempts(records: Iterable[ExperimentRecord]) -> dict[str, float]:
    last: dict[str, float] = {}
    for record in records:
        last[record.experiment] = max(last.get(record.experiment, 0.0), _of(record))
    return last
