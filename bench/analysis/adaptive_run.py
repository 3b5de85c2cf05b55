"""An adaptive run as it was recorded: its sequential design (run.json's plan), the event
that ended its schedule, and where each family stands after the run's looks. Every reader
of an adaptive run's verdicts (the summary table, the terminal, the claims) takes them from
here, so they all judge by the same looks."""

from __future__ import annotations

import weakref
from typing import Any

from bench.analysis import open_figures, sequential
from bench.data.results import RunData, samples_frame
from bench.data.run_meta import min_effects


def design_of(run: RunData) -> sequential.Design | None:
    plan = run.meta.get("plan")
    adaptive = plan.get("adaptive") if isinstance(plan, dict) else None
    if not isinstance(adaptive, dict):
        return None
    return sequential.Design.from_json(adaptive["design"])


def stop_event(run: RunData) -> Any:
    return next((e for e in reversed(run.events) if e.kind == "adaptive-stop"), None)


# id(run) -> its standings, dropped with the run: a report asks four times (the summary's
# overlay, the terminal lines, the claims and the classic table) and the looks of a felter
# run take about 3 s to replay. RunData is frozen, but its dict fields make it unhashable.
_LOOKED: dict[int, tuple[open_figures.Standing, ...]] = {}


def standings(run: RunData) -> tuple[open_figures.Standing, ...]:
    """Each family's standing; empty for a run with fixed repeats. Replayed once a run."""
    key = id(run)
    if key not in _LOOKED:
        _LOOKED[key] = tuple(_replay(run))
        weakref.finalize(run, _LOOKED.pop, key, None)
    return _LOOKED[key]


def _replay(run: RunData) -> list[open_figures.Standing]:
    design = design_of(run)
    if design is None:
        return []
    seed = int(run.meta.get("plan", {}).get("seed", 0))
    return open_figures.standings(
        samples_frame(run),
        design,
        # the run ended: what is still open was left out by the budget (its triage)
        finished=stop_event(run) is not None,
        min_effects=min_effects(run.meta),
        seed=seed,
        vm_emulated=run.run_meta.tcg,
    )
