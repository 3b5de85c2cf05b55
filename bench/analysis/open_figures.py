"""Which figures of a run are still open: the families an adaptive run steers by, and where
each stands after the looks so far (bench.analysis.sequential judges them).

A figure is what the summary table shows: a platform's metric against native, two-sided.
A claim family is the trial figures one claim rests on together (its subject against its
reference platform, one-sided in the direction the claim states, Holm over the family): its
pairs stay open until the family is decided. A (workload, platform) pair is measured again
while any family it feeds is open. Pure: a samples frame in, outcomes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bench.analysis import gate, sequential
from bench.analysis.claims.evidence import (
    CONTAINER,
    EMULATED_VM,
    IDLE_FOOTPRINT,
    NATIVE,
    SANDBOX,
    VM,
)
from bench.analysis.claims.speed import C9_METRICS, STARTUP_WORKLOADS, SYSCALL
from bench.analysis.groups import measured_rows
from bench.data.run_meta import EXCLUDED_METRICS

Pair = tuple[str, str]  # (workload, platform)
Expect = Literal["better", "worse"]
STARTUPS: Final = tuple((w, "startup_s") for w in STARTUP_WORKLOADS)
# claim -> (subject, reference, ((workload, metric, what the claim expects of the subject)))
CLAIM_FAMILIES: Final[dict[str, tuple[str, str, tuple[tuple[str, str, Expect], ...]]]] = {
    "C3": (CONTAINER, VM, tuple((w, m, "better") for w, m in STARTUPS)),
    # the idle footprint is C4's trial figure (the memory experiment, where a suite runs it,
    # adds its own): steering by it lets a short budget take C4 to a verdict
    "C4": (CONTAINER, VM, ((IDLE_FOOTPRINT, "memory_mib", "better"),)),
    "C13": (
        SANDBOX,
        VM,
        (*((w, m, "better") for w, m in STARTUPS), (*SYSCALL, "worse")),
    ),
    "C9": (VM, EMULATED_VM, tuple((w, m, "better") for w, m in C9_METRICS)),
}


@dataclass(frozen=True)
class Family:
    label: str
    members: tuple[sequential.Member, ...]
    sides: sequential.Sides
    pairs: frozenset[Pair]

    @property
    def is_claim(self) -> bool:
        """A claim's family (labelled by the claim), not one figure of the summary table."""
        return self.label in CLAIM_FAMILIES


@dataclass(frozen=True)
class Standing:
    family: Family
    outcomes: tuple[sequential.Outcome, ...]

    @property
    def open(self) -> bool:
        return any(o.open for o in self.outcomes)


def families(
    samples: pd.DataFrame, min_effects: Mapping[tuple[str, str], float] | None = None
) -> list[Family]:
    """The summary's figures against native, then the claim families the samples feed."""
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
    for claim, (subject, reference, metrics) in CLAIM_FAMILIES.items():
        members = []
        pairs: set[Pair] = set()
        for w, m, expect in metrics:
            mine, theirs = values.get((w, m, subject)), values.get((w, m, reference))
            if mine is None or theirs is None:
                continue
            effect = effects.get((w, m), gate.MIN_EFFECT)
            label = f"{claim}: {w} {m} {subject} vs {reference}"
            members.append(
                sequential.Member(
                    label, subject, reference, mine[1], theirs[1], mine[0], effect, expect
                )
            )
            pairs |= {(w, subject), (w, reference)}
        if members:
            found.append(Family(claim, tuple(members), 1, frozenset(pairs)))
    return found


def standings(
    samples: pd.DataFrame,
    design: sequential.Design,
    *,
    finished: bool = False,
    min_effects: Mapping[tuple[str, str], float] | None = None,
    seed: int = 0,
) -> list[Standing]:
    return [
        Standing(
            f,
            tuple(
                sequential.follow(f.members, design, sides=f.sides, finished=finished, seed=seed)
            ),
        )
        for f in families(samples, min_effects)
    ]


def open_pairs(found: Iterable[Standing]) -> set[Pair]:
    return {pair for s in found if s.open for pair in s.family.pairs}


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
