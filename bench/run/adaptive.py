"""The adaptive schedule's decisions: after the minimum repeats, which (workload, platform)
pairs the next round measures, and when the run stops (every figure decided, the budget
spent, or the largest n reached).

Decided from what the results directory holds, never from memory: a resumed run replays the
same looks on the same recorded values and so takes the same decisions. The budget counts
the trials' own wall time (warm-ups included) as recorded, so a resumed run goes on spending
the same budget rather than starting a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.analysis import open_figures, sequential
from bench.data.results import RunData, Trial, samples_frame
from bench.data.run_meta import min_effects


@dataclass(frozen=True)
class Adaptive:
    """An adaptive run's plan: the looks, and the wall time it may spend on trials."""

    design: sequential.Design
    budget_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        levels = self.design.levels()
        return {
            "design": self.design.to_json(),
            "budget_s": self.budget_s,
            "levels": dict(zip(map(str, self.design.looks()), levels, strict=True)),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Adaptive:
        return cls(sequential.Design.from_json(data["design"]), data.get("budget_s"))


@dataclass(frozen=True)
class Look:
    """Where the run stands before a round: the pairs still open, the time spent."""

    round: int
    open: frozenset[tuple[str, str]]
    spent_s: float
    next_round_s: float  # the open pairs' mean trial time so far, summed

    def stop_reason(self, adaptive: Adaptive) -> str:
        """Why no further round runs ('' when one does)."""
        if self.round >= adaptive.design.max_n:
            return "max n"
        if self.round >= adaptive.design.min_n and not self.open:
            return "decided"
        budget = adaptive.budget_s
        if budget is not None and self.spent_s + self.next_round_s > budget:
            return "budget"
        return ""


def look(run: RunData, adaptive: Adaptive, round_: int, seed: int) -> Look:
    frame = samples_frame(run)
    frame = frame[frame["round"] < round_]  # what this look saw, also when resumed later
    found = open_figures.standings(
        frame, adaptive.design, min_effects=min_effects(run.meta), seed=seed
    )
    pairs = frozenset(open_figures.open_pairs(found))
    spent = spent_s(run.trials)  # all of it: the budget is the run's, not this look's
    return Look(round_, pairs, spent, _next_round_s(run.trials, pairs, round_))


def spent_s(trials: Sequence[Trial]) -> float:
    return sum(max(0.0, t.ended - t.started) for t in trials)


def _next_round_s(trials: Sequence[Trial], pairs: frozenset[tuple[str, str]], round_: int) -> float:
    """A round of the open pairs, by their trials so far (all pairs before the looks)."""
    per_pair: dict[tuple[str, str], list[float]] = {}
    for t in trials:
        per_pair.setdefault((t.workload, t.platform), []).append(t.ended - t.started)
    rounds = max(1, round_)
    chosen = pairs if pairs else frozenset(per_pair)
    return sum(sum(per_pair.get(p, [])) / rounds for p in chosen)
