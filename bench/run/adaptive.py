"""The adaptive schedule's decisions: after the minimum repeats, which (workload, platform)
pairs the next round measures, and when the run stops (every figure decided, the budget
spent, or the largest n reached).

Decided from what the results directory holds, never from memory: a resumed run replays the
same looks on the same recorded values and so takes the same decisions. The budget counts
the trials' own wall time (warm-ups included) as recorded, so a resumed run goes on spending
the same budget rather than starting a new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.analysis import open_figures, sequential
from bench.data.results import RunData, Trial, samples_frame
from bench.data.run_meta import min_effects

Pair = tuple[str, str]  # (workload, platform)
# What the claims' families hold back beyond their estimated cost before a summary figure
# may have the rest: a pair's time per round drifts (a VM trial took 2.2 s one round and 7.4
# the next), and in a claims run C9, which fitted at round 1, was dropped at round 2, 4 s
# short, for what the figures kept beside it had spent; a family dropped part way loses its
# claim, a summary figure left out loses only its own verdict.
CLAIM_MARGIN: Final = 0.25


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
    """Where the run stands before a round: the pairs still open, those the round measures
    (the open ones that fit the budget), the trial time spent and what the round will cost;
    `short` are the open pairs an earlier round's budget left below the round's n."""

    round: int
    open: frozenset[Pair]
    measure: frozenset[Pair]
    spent_s: float
    next_round_s: float
    short: frozenset[Pair] = frozenset()

    def at_max_n(self, max_n: int) -> str:
        """What the stop at the largest n left: pairs measured to it whose figures are still
        undecided, and pairs the budget had left short of it."""
        reached = self.open - self.short
        return "; ".join(
            [f"the largest n ({max_n}) reached"]
            + ([f"{len(reached)} pair(s) reached it with a figure undecided"] if reached else [])
            + ([f"{len(self.short)} pair(s) left short of it by the budget"] if self.short else [])
        )

    def stop_reason(self, adaptive: Adaptive) -> str:
        """Why no further round runs ('' when one does)."""
        if self.round >= adaptive.design.max_n:
            return "max n"
        if self.round >= adaptive.design.min_n and not self.open:
            return "decided"
        budget = adaptive.budget_s
        if budget is not None and (not self.measure or self.spent_s + self.next_round_s > budget):
            return "budget"
        return ""


def look(run: RunData, adaptive: Adaptive, round_: int, every: frozenset[Pair], seed: int) -> Look:
    """The look before round `round_`, from the rounds before it only: a resumed run replays
    each round's look on the same values and so takes the same decisions."""
    frame = samples_frame(run)
    frame = frame[frame["round"] < round_]
    found = open_figures.standings(
        frame,
        adaptive.design,
        min_effects=min_effects(run.meta),
        seed=seed,
        vm_emulated=run.run_meta.tcg,
    )
    before = [t for t in run.trials if t.round < round_]
    spent = spent_s(before)
    costs = _costs(before)
    opened = every if round_ < adaptive.design.min_n else frozenset(open_figures.open_pairs(found))
    measure = opened
    counts = Counter((t.workload, t.platform) for t in before if not t.warmup)
    if adaptive.budget_s is not None and costs:
        bundles = _bundles(found, opened, adaptive.design)
        measure = triage(bundles, costs, counts, adaptive.budget_s - spent)
    short = frozenset(p for p in opened if counts[p] < round_)
    return Look(round_, opened, measure, spent, sum(costs.get(p, 0.0) for p in measure), short)


@dataclass(frozen=True)
class Bundle:
    """Pairs a family needs together (a figure is nothing without its reference's pair), and
    the first n at which that family's looks can call anything (its reach): a claim resting
    on six figures, one-sided, can call nothing before n=8 of 8, a single figure from n=6."""

    claim: bool
    pairs: frozenset[Pair]
    reach: int


def _bundles(
    found: Sequence[open_figures.Standing], opened: frozenset[Pair], design: sequential.Design
) -> list[Bundle]:
    bundles: list[Bundle] = []
    for s in found:
        pairs = s.open_pairs & opened
        if pairs:
            reach = design.first_look(s.family.tests, s.family.sides)
            bundles.append(Bundle(s.family.judged_whole, pairs, reach))
    covered = frozenset(p for b in bundles for p in b.pairs)
    single = design.first_look()
    bundles += [Bundle(False, frozenset({p}), single) for p in sorted(opened - covered)]
    return bundles


def triage(
    bundles: Sequence[Bundle],
    costs: Mapping[Pair, float],
    counts: Mapping[Pair, int],
    left_s: float,
) -> frozenset[Pair]:
    """The pairs worth a round when the budget cannot take every open family to the first
    look that can call it (its reach, `counts` repeats already made): the claims' families
    first, then the cheapest, while the rounds they still need fit (the summary's figures
    with CLAIM_MARGIN of the claims' cost kept free). Whatever is left out stops for the
    budget."""

    def rounds(b: Bundle, p: Pair) -> int:
        return max(1, b.reach - counts.get(p, 0))

    def cost(b: Bundle, reserved: Mapping[Pair, int]) -> float:
        return sum(costs.get(p, 0.0) * max(0, rounds(b, p) - reserved.get(p, 0)) for p in b.pairs)

    none: dict[Pair, int] = {}
    order = sorted(bundles, key=lambda b: (not b.claim, cost(b, none), sorted(b.pairs)))
    reserved: dict[Pair, int] = {}
    spent = held = 0.0
    for b in order:
        extra = cost(b, reserved)
        room = left_s if b.claim else left_s - CLAIM_MARGIN * held
        if spent + extra <= room:
            spent += extra
            held += extra if b.claim else 0.0
            for p in b.pairs:
                reserved[p] = max(reserved.get(p, 0), rounds(b, p))
    return frozenset(reserved)


def spent_s(trials: Sequence[Trial]) -> float:
    return sum(max(0.0, t.ended - t.started) for t in trials)


def _costs(trials: Sequence[Trial]) -> dict[Pair, float]:
    """Per pair, its trial time per round it was measured in (warm-ups included): a pair the
    budget left out of a round costs as much as before when it comes back, not half."""
    total: dict[Pair, float] = {}
    rounds: dict[Pair, set[int]] = {}
    for t in trials:
        pair = (t.workload, t.platform)
        total[pair] = total.get(pair, 0.0) + max(0.0, t.ended - t.started)
        rounds.setdefault(pair, set()).add(t.round)
    return {p: v / len(rounds[p]) for p, v in total.items()}
