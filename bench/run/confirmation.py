"""The plans of a run's confirmation runs (`vcbench run --confirm`): pure, so what a
confirmation measures is decided and tested without running anything.

Each confirmation run is a run of its own, with new instances and its own order seed, so that it
carries its own noise between runs, the thing a confirmation must sample afresh. It measures
only the suspects' workloads, each only on its suspects' platforms, and no claim experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bench.core.platform_names import base_of
from bench.data.check_record import CONFIRMS, FigureCheck
from bench.run.runner import RunPlan


def confirmation_plans(
    plan: RunPlan,
    suspects: Sequence[FigureCheck],
    runs: int,
    new_id: Callable[[], str],
) -> list[tuple[RunPlan, dict[str, Any]]]:
    """`runs` plans re-measuring the suspects of `plan`'s run, each with the run.json entry that
    marks it as a confirmation (so it never joins a history, nor is checked itself)."""
    wanted: dict[str, set[str]] = {}
    for f in suspects:
        wanted.setdefault(f.workload, set()).add(f.platform)
    if not wanted:
        return []
    workloads = tuple(
        w.model_copy(update={"platforms": _bases_of(w.platforms, wanted[w.name])})
        for w in plan.workloads
        if w.name in wanted
    )
    platforms = tuple(p for p in plan.platforms if any(p in chosen for chosen in wanted.values()))
    return [
        (
            replace(
                plan,
                run_id=new_id(),
                workloads=workloads,
                platforms=platforms,
                experiments=(),
                seed=plan.seed + replicate,
            ),
            {CONFIRMS: {"run_id": plan.run_id, "replicate": replicate}},
        )
        for replicate in range(1, runs + 1)
    ]


def _bases_of(declared: tuple[str, ...], chosen: set[str]) -> tuple[str, ...]:
    """A workload declares base platforms (libvirt); a suspect may sit on a profile of one
    (libvirt-tuned): keep the declared bases some suspect runs on."""
    return tuple(p for p in declared if any(base_of(c) == p for c in chosen))
