"""Which figures of a run are still open: the families an adaptive run steers by, and where
each stands after the looks so far (bench.analysis.sequential judges them).

A figure is what the summary table shows: a platform's metric against native, two-sided.
A claim family is the trial figures one claim rests on together (its subject against its
reference platform, one-sided in the direction the claim states where it states one, Holm
over the family): its pairs stay open until the family is decided. The classic table
(bench.analysis.classic) is one family too: each row asks whether its subject is worse than
native or no worse, at its share of the family's level, and frees its pairs once answered
(sequential.follow_orderings). A (workload,
platform) pair is measured again while any family it feeds is open. Pure: a samples frame in,
outcomes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bench.analysis import classic, gate, sequential
from bench.analysis.claims.evidence import (
    CONTAINER,
    EMULATED_VM,
    IDLE_FOOTPRINT,
    NATIVE,
    SANDBOX,
    VM,
)
from bench.analysis.claims.speed import C8_METRICS, C9_METRICS, STARTUP_WORKLOADS, SYSCALL
from bench.analysis.groups import measured_rows
from bench.data.run_meta import EXCLUDED_METRICS

Pair = tuple[str, str]  # (workload, platform)
Expect = Literal["better", "worse"]
STARTUPS: Final = tuple((w, "startup_s") for w in STARTUP_WORKLOADS)


@dataclass(frozen=True)
class ClaimFamily:
    """The trial figures a claim rests on: its subject against its reference, what the claim
    expects of the subject in each, and whether its looks are one-sided (the claim states a
    direction for every figure) or two-sided (C8: "worse on most", a majority of a family
    judged both ways, as bench.analysis.calibration_sequential calibrates it)."""

    subject: str
    reference: str
    metrics: tuple[tuple[str, str, Expect], ...]
    sides: sequential.Sides = 1
    # False: the claim is not measurable where the VM is emulated (TCG), so its pairs steer
    # nothing there (C8 is about virtualisation's cost, which emulation does not measure)
    under_emulation: bool = True


CLAIM_FAMILIES: Final[dict[str, ClaimFamily]] = {
    "C3": ClaimFamily(CONTAINER, VM, tuple((w, m, "better") for w, m in STARTUPS)),
    # the idle footprint is C4's trial figure (the memory experiment, where a suite runs it,
    # adds its own): steering by it lets a short budget take C4 to a verdict
    "C4": ClaimFamily(CONTAINER, VM, ((IDLE_FOOTPRINT, "memory_mib", "better"),)),
    "C13": ClaimFamily(
        SANDBOX, VM, (*((w, m, "better") for w, m in STARTUPS), (*SYSCALL, "worse"))
    ),
    "C9": ClaimFamily(VM, EMULATED_VM, tuple((w, m, "better") for w, m in C9_METRICS)),
    # a budget that holds the claims' pairs first must hold C8's too, where it is measurable
    "C8": ClaimFamily(
        VM, NATIVE, tuple((w, m, "worse") for w, m in C8_METRICS), 2, under_emulation=False
    ),
}


@dataclass(frozen=True)
class Family:
    label: str
    members: tuple[sequential.Member, ...]
    sides: sequential.Sides
    pairs: frozenset[Pair]
    orderings: bool = False  # the classic table: "worse, or no worse?" per member
    # an ordering family's members are questions of their own: each member's pairs, so a
    # decided row frees its platforms while the others go on (empty: the family's pairs)
    member_pairs: tuple[frozenset[Pair], ...] = ()

    @property
    def judged_whole(self) -> bool:
        """A family one verdict rests on (a claim's, labelled by the claim, or the classic
        table's), not one figure of the summary table."""
        return self.label in CLAIM_FAMILIES or self.orderings

    @property
    def tests(self) -> int:
        """How many shares of alpha the family's looks split (what its first look hinges on)."""
        return sequential.ordering_tests(len(self.members)) if self.orderings else len(self.members)

    def follow(
        self, design: sequential.Design, *, finished: bool, seed: int
    ) -> list[sequential.Outcome]:
        if self.orderings:
            return sequential.follow_orderings(self.members, design, finished=finished, seed=seed)
        return sequential.follow(
            self.members, design, sides=self.sides, finished=finished, seed=seed
        )


@dataclass(frozen=True)
class Standing:
    family: Family
    outcomes: tuple[sequential.Outcome, ...]

    @property
    def open(self) -> bool:
        return any(o.open for o in self.outcomes)

    @property
    def open_pairs(self) -> frozenset[Pair]:
        """The pairs the next round must measure for this family: all of a claim's while it
        is open, an ordering family's open members' only."""
        if not self.family.member_pairs:
            return self.family.pairs if self.open else frozenset()
        mine = zip(self.family.member_pairs, self.outcomes, strict=True)
        return frozenset(p for pairs, o in mine if o.open for p in pairs)


def families(
    samples: pd.DataFrame,
    min_effects: Mapping[tuple[str, str], float] | None = None,
    *,
    vm_emulated: bool = False,
) -> list[Family]:
    """The summary's figures against native, then the claim families the samples feed
    (`vm_emulated`: the run's VM ran under TCG, RunMeta.tcg)."""
    values = _values(samples)
    effects = min_effects or {}
    found: list[Family] = []
    for (w, m, p), (hib, vals) in values.items():
        ref = values.get((w, m, NATIVE))
        if p == NATIVE or ref is None:
            continue
        effect = effects.get((w, m), gate.MIN_EFFECT)
        member = sequential.Member(f"{w} {m} {p}", p, NATIVE, vals, ref[1], hib, effect)
        found.append(Family(member.label, (member,), 2, frozenset({(w, p), (w, NATIVE)})))
    for claim, spec in CLAIM_FAMILIES.items():
        if vm_emulated and not spec.under_emulation:
            continue
        members = []
        pairs: set[Pair] = set()
        for w, m, expect in spec.metrics:
            mine, theirs = values.get((w, m, spec.subject)), values.get((w, m, spec.reference))
            if mine is None or theirs is None:
                continue
            effect = effects.get((w, m), gate.MIN_EFFECT)
            label = f"{claim}: {w} {m} {spec.subject} vs {spec.reference}"
            members.append(
                sequential.Member(
                    label, spec.subject, spec.reference, mine[1], theirs[1], mine[0], effect, expect
                )
            )
            pairs |= {(w, spec.subject), (w, spec.reference)}
        if members:
            found.append(Family(claim, tuple(members), spec.sides, frozenset(pairs)))
    table = _classic_family(values, effects)
    return [*found, table] if table else found


def _classic_family(
    values: Mapping[tuple[str, str, str], tuple[bool, Sequence[float]]],
    effects: Mapping[tuple[str, str], float],
) -> Family | None:
    """The classic table's rows the samples measure, as one ordering family (its label is
    classic.SUBJECT; each member's label is `classic: <row key>`)."""
    members = []
    pairs: list[frozenset[Pair]] = []
    for row in classic.ROWS:
        mine = values.get((row.workload, row.metric, row.subject))
        theirs = values.get((row.workload, row.metric, classic.NATIVE))
        if mine is None or theirs is None:
            continue
        effect = effects.get((row.workload, row.metric), gate.MIN_EFFECT)
        label = f"{classic.SUBJECT}: {row.key}"
        members.append(
            sequential.Member(
                label, row.subject, classic.NATIVE, mine[1], theirs[1], mine[0], effect
            )
        )
        pairs.append(frozenset({(row.workload, row.subject), (row.workload, classic.NATIVE)}))
    if not members:
        return None
    every = frozenset().union(*pairs)
    # one-sided: both of a row's tests are (sequential.follow_orderings)
    return Family(
        classic.SUBJECT, tuple(members), 1, every, orderings=True, member_pairs=tuple(pairs)
    )


def standings(
    samples: pd.DataFrame,
    design: sequential.Design,
    *,
    finished: bool = False,
    min_effects: Mapping[tuple[str, str], float] | None = None,
    seed: int = 0,
    vm_emulated: bool = False,
) -> list[Standing]:
    return [
        Standing(f, tuple(f.follow(design, finished=finished, seed=seed)))
        for f in families(samples, min_effects, vm_emulated=vm_emulated)
    ]


def open_pairs(found: Iterable[Standing]) -> set[Pair]:
    return {pair for s in found for pair in s.open_pairs}


def _values(samples: pd.DataFrame) -> dict[tuple[str, str, str], tuple[bool, Sequence[float]]]:
    """Per (workload, metric, platform) of the workloads' own metrics: the values in round
    order (NaN kept: the gate counts and refuses them)."""
    if samples.empty:
        return {}
    rows = measured_rows(samples)
    if "origin" in rows:
        rows = rows[rows["origin"] == "workload"]
    rows = rows[~rows["metric"].isin(list(EXCLUDED_METRICS))]
    out: dict[tuple[str, str, str], tuple[bool, Sequence[float]]] = {}
    for key, frame in rows.groupby(["workload", "metric", "platform"], sort=False):
        ordered = frame.sort_values("round", kind="stable")
        values = ordered["value"].to_numpy(dtype=np.float64).tolist()
        w, m, p = (str(k) for k in key)
        out[(w, m, p)] = (bool(frame["higher_is_better"].iloc[0]), values)
    return out
