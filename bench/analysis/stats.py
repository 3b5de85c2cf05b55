"""The figures of a run and of two runs against each other: per (workload, metric, platform)
the median with its 95% bootstrap interval, the CV, the ratio against the baseline with its
own interval, and the verdict, which bench.analysis.gate alone gives.

Pure on purpose: data in, data out. No I/O, no state, and random numbers only from a
generator seeded by the caller, keyed per group, so every figure in a report can be
recomputed from the samples alone and tested on synthetic data with known answers.

Medians, not means: benchmark noise is one-sided (interference only ever slows a run down),
so the median is the robust centre; means and standard deviations are reported for the CV.
The groups and estimators are bench.analysis.groups'; the warnings bench.analysis.stability's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bench.analysis import gate
from bench.analysis.groups import (
    NEEDED,
    FloatArray,
    Group,
    boot_medians,
    cv_of,
    measured_rows,
    median_of,
    percentile_interval,
    rng_for,
    sample_groups,
)
from bench.core.platform_names import platform_key

__all__ = [
    "COMPARE_COLUMNS",
    "MARKS",
    "SUMMARY_COLUMNS",
    "VERDICTS",
    "Pair",
    "compare",
    "pairs_against",
    "summarize",
]


SUMMARY_COLUMNS: Final = (
    "workload",
    "metric",
    "platform",
    "unit",
    "higher_is_better",
    "n",
    "median",
    "mean",
    "std",
    "cv",
    "ci_low",
    "ci_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "overhead_pct",
    "p_value",
    "verdict",
    "reason",
    "code",  # the gate's Reason, as data: readers branch on it, never on the prose
)

COMPARE_COLUMNS: Final = (
    "workload",
    "metric",
    "platform",
    "unit",
    "higher_is_better",
    "n_a",
    "n_b",
    "median_a",
    "median_b",
    "ratio",
    "ratio_low",
    "ratio_high",
    "change_pct",
    "p_value",
    "mark",
    "reason",
    "code",
    "armed",
)

# "better"/"worse" rather than "faster"/"slower": for a latency lower is better, and the
# verdict must read the same way whatever the metric's direction.
VERDICTS: Final = ("baseline", "better", "worse", "no difference", "inconclusive")
MARKS: Final = ("better", "worse", "not significant", "not comparable")

_NAN: Final = float("nan")


def _evidence(
    g: Group,
    ref: Group,
    boot: FloatArray,
    ref_boot: FloatArray,
    confidence: float,
    names: tuple[str, str],
) -> gate.Evidence:
    """What the gate reads of g against ref: the ratio of medians with its bootstrap
    interval, the U test's p, the CVs, and how many values were not numbers."""
    n, n_ref = int(g.values.size), int(ref.values.size)
    median_ref = median_of(ref.values)
    ratio = gate.safe_ratio(median_of(g.values), median_ref)
    ratio_low = ratio_high = _NAN
    if n >= 2 and n_ref >= 2 and math.isfinite(ratio):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_low, ratio_high = percentile_interval(boot / ref_boot, confidence)
    return gate.Evidence(
        subject=names[0],
        reference=names[1],
        higher_is_better=g.higher_is_better,
        n=n,
        n_ref=n_ref,
        ratio=ratio,
        ratio_low=ratio_low,
        ratio_high=ratio_high,
        p_value=gate.mwu(g.values, ref.values),
        cv=cv_of(g.values)[2],
        cv_ref=cv_of(ref.values)[2],
        bad=g.bad,
        bad_ref=ref.bad,
        median_ref=median_ref,
    )


def _effect_for(
    workload: str,
    metric: str,
    min_effect: float,
    min_effects: Mapping[tuple[str, str], float] | None,
) -> float:
    if min_effects is None:
        return min_effect
    return float(min_effects.get((workload, metric), min_effect))


# --- summarize ---------------------------------------------------------------------------

Family = Literal["none", "platform"]


def summarize(
    samples: pd.DataFrame,
    *,
    baseline: str = "native",
    min_effect: float = gate.MIN_EFFECT,
    min_effects: Mapping[tuple[str, str], float] | None = None,
    alpha: float = gate.ALPHA,
    confidence: float = gate.CONFIDENCE,
    resamples: int = 2000,
    seed: int = 0,
    cv_limit: float = gate.CV_LIMIT,
    min_repeats: int = gate.MIN_REPEATS,
    family: Family = "none",
) -> pd.DataFrame:
    """One row per (workload, metric, platform): the figures and a verdict against `baseline`.

    Columns: SUMMARY_COLUMNS. `ratio` is this platform's median over the baseline's;
    `overhead_pct` is signed, positive = worse than the baseline whatever the metric's
    direction. `verdict` is one of VERDICTS, from bench.analysis.gate, and `reason` says why
    in words.
    `min_effects` overrides `min_effect` per (workload, metric). `family="platform"` judges
    each platform's rows as one family (Holm): for a conclusion drawn from all of them.
    """
    policy = gate.Policy(alpha, min_effect, min_repeats, cv_limit, confidence)
    groups, pairs = _compared(samples, baseline, confidence, resamples, seed)
    rows = {g.key: _figures(g, boot, confidence) for g, boot in groups}
    for g, _ in groups:
        if g.platform == baseline:
            rows[g.key].update(_BASELINE_ROW)
        elif g.key not in pairs:
            rows[g.key].update(_NO_BASELINE_ROW, reason=f"no {baseline} samples to compare with")
    compared: dict[str, list[tuple[Group, gate.Evidence]]] = {}
    for pair in pairs.values():
        g, ev = pair.group, pair.evidence
        rows[g.key].update(
            ratio=ev.ratio,
            ratio_low=ev.ratio_low,
            ratio_high=ev.ratio_high,
            overhead_pct=ev.worse_pct,
            p_value=ev.p_value,
        )
        compared.setdefault(g.platform if family == "platform" else "/".join(g.key), []).append(
            (g, ev)
        )
    for members in compared.values():
        effects = [_effect_for(g.workload, g.metric, min_effect, min_effects) for g, _ in members]
        decisions = gate.decide_family([ev for _, ev in members], policy, min_effects=effects)
        for (g, _), decision in zip(members, decisions, strict=True):
            rows[g.key].update(
                verdict=decision.call, reason=decision.reason, code=str(decision.code)
            )

    frame = pd.DataFrame(list(rows.values()), columns=list(SUMMARY_COLUMNS))
    return _ordered(frame, baseline)


@dataclass(frozen=True)
class Pair:
    """One group against the baseline's group of the same workload and metric, and what the
    gate reads of them."""

    group: Group
    reference: Group
    evidence: gate.Evidence


def _compared(
    samples: pd.DataFrame, baseline: str, confidence: float, resamples: int, seed: int
) -> tuple[list[tuple[Group, FloatArray]], dict[tuple[str, str, str], Pair]]:
    """Every group with its bootstrap medians, and every non-baseline group that has a
    baseline to compare with, as a Pair keyed by the group's key."""
    groups = [g for g, _ in sample_groups(measured_rows(samples))]
    by_key = {g.key: g for g in groups}
    boots = {g.key: boot_medians(g.values, resamples, rng_for(seed, *g.key)) for g in groups}
    pairs: dict[tuple[str, str, str], Pair] = {}
    for g in groups:
        base = by_key.get((g.workload, g.metric, baseline))
        if g.platform == baseline or base is None:
            continue
        ev = _evidence(g, base, boots[g.key], boots[base.key], confidence, (g.platform, baseline))
        pairs[g.key] = Pair(g, base, ev)
    return [(g, boots[g.key]) for g in groups], pairs


def pairs_against(
    samples: pd.DataFrame,
    *,
    baseline: str = "native",
    confidence: float = gate.CONFIDENCE,
    resamples: int = 2000,
    seed: int = 0,
) -> list[Pair]:
    """Each platform's figures against the baseline's, as summarize computes them, for a
    reader that judges them by another rule of the gate (the classic table's orderings)."""
    return list(_compared(samples, baseline, confidence, resamples, seed)[1].values())


_BASELINE_ROW: Final = {
    "ratio": 1.0,
    "ratio_low": 1.0,
    "ratio_high": 1.0,
    "overhead_pct": 0.0,
    "p_value": _NAN,
    "verdict": "baseline",
    "reason": "baseline platform",
    "code": "",
}
_NO_BASELINE_ROW: Final = {
    "ratio": _NAN,
    "ratio_low": _NAN,
    "ratio_high": _NAN,
    "overhead_pct": _NAN,
    "p_value": _NAN,
    "verdict": "inconclusive",
    "code": str(gate.Reason.BAD_NUMBERS),
}


def _figures(g: Group, boot: FloatArray, confidence: float) -> dict[str, object]:
    n = int(g.values.size)
    mean, std, cv = cv_of(g.values)
    ci_low, ci_high = percentile_interval(boot, confidence) if n >= 2 else (_NAN, _NAN)
    return {
        "workload": g.workload,
        "metric": g.metric,
        "platform": g.platform,
        "unit": g.unit,
        "higher_is_better": g.higher_is_better,
        "n": n,
        "median": median_of(g.values),
        "mean": mean,
        "std": std,
        "cv": cv,
        "ci_low": ci_low,
        "ci_high": ci_high,
    }


def _ordered(frame: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Workloads and metrics in order of first appearance; the baseline first among platforms,
    the others in the one platform order (native, docker, libvirt, libvirt-tuned...)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    found = dict.fromkeys(str(p) for p in frame["platform"])
    platforms = sorted(found, key=lambda p: (p != baseline, platform_key(p)))
    order = pd.DataFrame(
        {
            "w": pd.Categorical(
                frame["workload"], categories=list(dict.fromkeys(frame["workload"]))
            ).codes,
            "m": pd.Categorical(
                frame["metric"], categories=list(dict.fromkeys(frame["metric"]))
            ).codes,
            "p": pd.Categorical(frame["platform"], categories=platforms).codes,
        }
    )
    index = order.sort_values(["w", "m", "p"], kind="stable").index
    return frame.loc[index].reset_index(drop=True)


# --- compare -----------------------------------------------------------------------------


def compare(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    alpha: float = gate.ALPHA,
    min_effect: float = gate.MIN_EFFECT,
    min_effects: Mapping[tuple[str, str], float] | None = None,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = gate.CONFIDENCE,
    min_repeats: int = gate.MIN_REPEATS,
) -> pd.DataFrame:
    """Run b against run a, per (workload, metric, platform) present in both, like asv compare.

    Columns: COMPARE_COLUMNS. `ratio` is b's median over a's; `change_pct` is signed,
    positive = b is worse than a whatever the metric's direction. `mark` is one of MARKS:
    "not comparable" when the workload's definition (workload_hash) changed between the runs,
    or the unit, direction or VM acceleration differs; otherwise bench.analysis.gate decides, and
    anything short of "better"/"worse" is "not significant" with the gate's reason. `armed`
    says whether the gate could have called a change at all with these repeats.
    """
    policy = gate.Policy(alpha, min_effect, min_repeats, gate.CV_LIMIT, confidence)
    needed = (*NEEDED, "workload_hash")
    groups_a = [g for g, _ in sample_groups(measured_rows(a, needed))]
    groups_b = {g.key: g for g, _ in sample_groups(measured_rows(b, needed))}
    hashes_a = _hashes_by_workload(groups_a)
    hashes_b = _hashes_by_workload(list(groups_b.values()))

    rows: list[dict[str, object]] = []
    for ga in groups_a:
        gb = groups_b.get(ga.key)
        if gb is None:
            continue
        boot_a = boot_medians(ga.values, resamples, rng_for(seed, "a", *ga.key))
        boot_b = boot_medians(gb.values, resamples, rng_for(seed, "b", *gb.key))
        ev = _evidence(gb, ga, boot_b, boot_a, confidence, ("run b", "run a"))
        effect = _effect_for(ga.workload, ga.metric, min_effect, min_effects)
        problems = _unlike(ga, gb, hashes_a[ga.workload], hashes_b[ga.workload])
        decision = gate.decide(ev, policy, min_effect=effect)
        if problems:
            mark, reason = "not comparable", "; ".join(problems)
        elif decision.call in ("better", "worse"):
            mark, reason = decision.call, decision.reason
        else:
            mark, reason = "not significant", decision.reason
        rows.append(
            {
                "workload": ga.workload,
                "metric": ga.metric,
                "platform": ga.platform,
                "unit": ga.unit,
                "higher_is_better": ga.higher_is_better,
                "n_a": ev.n_ref,
                "n_b": ev.n,
                "median_a": median_of(ga.values),
                "median_b": median_of(gb.values),
                "ratio": ev.ratio,
                "ratio_low": ev.ratio_low,
                "ratio_high": ev.ratio_high,
                "change_pct": ev.worse_pct,
                "p_value": ev.p_value,
                "mark": mark,
                "reason": reason,
                "code": str(decision.code),
                "armed": decision.armed and not problems,
            }
        )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _unlike(ga: Group, gb: Group, hashes_a: frozenset[str], hashes_b: frozenset[str]) -> list[str]:
    """Why a's and b's figures measure different things, if they do."""
    problems: list[str] = []
    if hashes_a != hashes_b:
        problems.append(
            f"workload definition changed: hash {','.join(sorted(hashes_a)) or '-'}"
            f" -> {','.join(sorted(hashes_b)) or '-'}"
        )
    if ga.unit != gb.unit:
        problems.append(f"unit {ga.unit} -> {gb.unit}")
    if ga.higher_is_better != gb.higher_is_better:
        problems.append("direction (higher_is_better) changed")
    if ga.accels != gb.accels:
        problems.append(
            f"accel {','.join(sorted(ga.accels)) or '-'} -> {','.join(sorted(gb.accels)) or '-'}"
        )
    return problems


def _hashes_by_workload(groups: Sequence[Group]) -> dict[str, frozenset[str]]:
    """Per workload, not per group: a changed definition invalidates all of its metrics."""
    out: dict[str, frozenset[str]] = {}
    for g in groups:
        out[g.workload] = out.get(g.workload, frozenset()) | g.hashes
    return out
