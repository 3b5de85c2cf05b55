"""The one verdict engine: every "better", "worse" or "no difference" vcbench prints comes from
`decide` (a single comparison) or `decide_family` (several that one conclusion rests on).

The summary table, `vcbench compare`, the regression check, the history's steps and every
claim call it; nothing else turns figures into a verdict. Pure: numbers in, a Decision out.

The gate, in order (the first that applies gives the verdict):
1. Bad numbers: a value that is NaN or infinite, no values at all, or a reference median of 0
   (0 against 0 included) is "inconclusive" with the reason, never "no difference".
2. Too few repeats: fewer than `min_repeats` on either side is "inconclusive".
3. A test that cannot fire: when the exact Mann-Whitney U cannot reach the threshold at these
   n (with n = 5 and 5 the smallest two-sided p is 2/252 = 0.0079), "inconclusive".
4. "better"/"worse": p < alpha (Holm-adjusted within a family) *and* a shift of at least the
   minimum effect. Both, always: with many samples a 0.1% shift is significant and
   meaningless; with few, a large shift is noise.
5. "no difference" only when the data could have shown one: low CV on both sides and the
   ratio's 95% bootstrap interval inside +-min_effect (an equivalence test). Else
   "inconclusive", saying which condition failed.

An ordering ("is the subject worse than the reference, or no worse?", the classic table's
question) has a third answer, "no worse": a one-sided exact U test rejects "worse by the
minimum effect or more" (the reference's values made that much worse, the subject below
them). The two nulls, "not worse" and "worse by the minimum effect", exclude each other, so
one step-down family over both tests of every row (`decide_orderings`, `holm_pairs`) bounds
the chance of any false "worse" or false "no worse" by alpha. It needs no CV limit, unlike
"no difference", whose interval test is per comparison and so is not an answer there: a noisy
pair earns "no worse" only with enough repeats.

Why this is calibrated: under A/A (both sides drawn from one continuous distribution) the
exact U test rejects with probability at most alpha whatever the distribution, and the
minimum effect only removes rejections; Holm's step-down keeps a family's chance of any false
rejection at most alpha too. The calibration module measures it on skewed, bimodal and
outlier-ridden data (bench.analysis.calibration; its figures are in every report's method section).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

Call = Literal["better", "worse", "no difference", "no worse", "inconclusive"]

# The defaults, in one place: the summary, compare, the regression check and the claims read
# these (a workload's TOML may set its own min_effect per metric).
ALPHA: Final = 0.01
MIN_EFFECT: Final = 0.03
MIN_REPEATS: Final = 5
CV_LIMIT: Final = 0.05
CONFIDENCE: Final = 0.95


@dataclass(frozen=True)
class Policy:
    """The gate's thresholds. One instance, DEFAULT, serves every consumer.

    The last four are the run-level check's (bench.analysis.run_level), which judges a figure
    across nights with one summary per run: `screen_alpha` flags a suspect, `alpha` (Holm over
    the suspects) confirms it on fresh runs; `min_history` comparable earlier runs before the
    host's noise between runs counts as known, the newest `history_window` of them used;
    `confirm_runs` fresh runs re-measure the suspects when a run confirms in the same job.
    """

    alpha: float = ALPHA
    min_effect: float = MIN_EFFECT
    min_repeats: int = MIN_REPEATS
    cv_limit: float = CV_LIMIT
    confidence: float = CONFIDENCE
    screen_alpha: float = 0.05
    min_history: int = 6
    history_window: int = 20
    confirm_runs: int = 5


DEFAULT: Final = Policy()


class Reason(StrEnum):
    """Why the gate gave its call: typed, so readers branch on the code, never on the prose."""

    BAD_NUMBERS = "bad-numbers"  # NaN/inf values, no values, a reference median of 0
    TOO_FEW_REPEATS = "too-few-repeats"
    TEST_CANNOT_FIRE = "test-cannot-fire"  # the exact U test cannot reach alpha at these n
    CHANGED = "changed"  # better or worse: significant and at least the minimum effect
    EQUIVALENT = "equivalent"  # no difference: low CV and the interval inside +-min effect
    SMALL_SHIFT = "small-shift"  # significant, but below the minimum effect; not equivalent
    NOT_SIGNIFICANT = "not-significant"  # p >= alpha, and the data cannot rule a change out
    NO_WORSE = "no-worse"  # an ordering: worse by the minimum effect ruled out (one-sided U)


# The codes under which "better"/"worse" was out of reach whatever the figures were.
UNARMED: Final = frozenset({Reason.BAD_NUMBERS, Reason.TOO_FEW_REPEATS, Reason.TEST_CANNOT_FIRE})
# The subset a reader can cure by measuring more (the others are bad numbers).
TOO_FEW: Final = frozenset({Reason.TOO_FEW_REPEATS, Reason.TEST_CANNOT_FIRE})


def rule_text(policy: Policy = DEFAULT, *, family: bool = True) -> str:
    """The gate's rule in words, from the policy: what claims and comparisons print."""
    holm_part = ", Holm-adjusted across the claim's figures," if family else ""
    return (
        f"the gate: a Mann-Whitney U test at p < {policy.alpha:g}{holm_part}"
        f" and a shift of at least the minimum effect ({pct(policy.min_effect)}),"
        f" with n >= {policy.min_repeats} on both sides"
    )


@dataclass(frozen=True)
class Evidence:
    """One comparison: `subject` against `reference`, the figures the gate reads.

    `ratio` is the subject's median over the reference's, with its bootstrap interval;
    `bad` counts values that were not finite numbers (left out of n).
    """

    subject: str
    reference: str
    higher_is_better: bool
    n: int
    n_ref: int
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float
    cv: float
    cv_ref: float
    bad: int = 0
    bad_ref: int = 0
    median_ref: float = math.nan
    # 1 when p_value is one-sided (a claim that states its direction): the smallest p the
    # exact U test can give halves, so the gate's "cannot reach" check must know.
    sides: int = 2

    @property
    def worse_pct(self) -> float:
        """Signed change in percent, positive = worse, whichever way the metric points."""
        return worse_pct(self.ratio, self.higher_is_better)


@dataclass(frozen=True)
class Decision:
    call: Call
    reason: str  # the prose, for people
    p_used: float  # the p the gate compared with alpha (Holm-adjusted in a family)
    code: Reason  # the reason as data, for code

    @property
    def armed(self) -> bool:
        """Whether "better"/"worse" was reachable at all with these numbers and n."""
        return self.code not in UNARMED


# --- pieces the gate and its callers share ---------------------------------------------------


def pct(fraction: float) -> str:
    """0.123 -> '12.3%', 0.05 -> '5%': short, but never rounds 5.1% down to a confusing 5%."""
    return f"{fraction * 100:.3g}%"


def worse_pct(ratio: float, higher_is_better: bool) -> float:
    return (1.0 - ratio) * 100 if higher_is_better else (ratio - 1.0) * 100


def min_p(n1: int, n2: int, sides: int = 2) -> float:
    """The smallest p the exact U test can give (complete separation, no ties): two-sided by
    default, half that one-sided."""
    if n1 == 0 or n2 == 0:
        return 1.0
    return min(1.0, sides / math.comb(n1 + n2, n1))


def repeats_needed(threshold: float) -> int:
    """The fewest repeats a side (both alike) at which the U test can reach `threshold`."""
    n = 2
    while min_p(n, n) >= threshold:
        n += 1
    return n


Alternative = Literal["two-sided", "less", "greater"]


# Up to this many ways to split the pooled values (C(16, 8) = 12,870; C(18, 9) = 48,620),
# tied data get the exact permutation p instead of scipy's normal approximation.
EXACT_SPLITS: Final = 50_000


def mwu(x: ArrayLike, y: ArrayLike, alternative: Alternative = "two-sided") -> float:
    """Mann-Whitney U p-value (two-sided unless a claim states the direction: "less" is x
    below y): ranks only, so no normality and robust to outliers.

    scipy is exact only without ties; with one it falls back to the normal approximation,
    which at small n is far from the tail: 8 values wholly above 8 others, two of them tied,
    get p=0.00093 instead of the exact 0.00016, and a family of 14 can no longer call a 10x
    difference. Quantised figures (a latency histogram's buckets) tie often, so tied samples
    of a size that can be enumerated get the exact permutation p of their midranks."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return math.nan
    pooled = np.concatenate([a, b])
    tied = np.unique(pooled).size < pooled.size
    if tied and math.comb(pooled.size, a.size) <= EXACT_SPLITS:
        return _exact_tied_mwu(pooled, a.size, alternative)
    return float(sps.mannwhitneyu(a, b, alternative=alternative).pvalue)


def _exact_tied_mwu(pooled: np.ndarray, n_x: int, alternative: Alternative) -> float:
    """The exact permutation p of the rank sum of the first n_x pooled values (midranks):
    every split of the pooled values into n_x and the rest, equally likely under the null."""
    ranks = sps.rankdata(pooled)
    splits = np.array(list(itertools.combinations(range(pooled.size), n_x)), dtype=np.intp)
    sums = ranks[splits].sum(axis=1)
    observed = ranks[:n_x].sum()
    tolerance = 1e-9 * max(1.0, abs(observed))
    below = float(np.mean(sums <= observed + tolerance))
    above = float(np.mean(sums >= observed - tolerance))
    if alternative == "less":
        return below
    if alternative == "greater":
        return above
    return min(1.0, 2.0 * min(below, above))


def mwu_no_worse(
    subject: ArrayLike, reference: ArrayLike, higher_is_better: bool, margin: float
) -> float:
    """p of "the subject is worse than the reference by `margin` or more": the reference's
    values made `margin` worse (a ratio, as the minimum effect is), then the one-sided U test
    that the subject lies on their better side. Exact under a shift of the log values."""
    shifted = np.asarray(reference, dtype=np.float64) * (
        1.0 - margin if higher_is_better else 1.0 + margin
    )
    return mwu(subject, shifted, "greater" if higher_is_better else "less")


def safe_ratio(a: float, b: float) -> float:
    """a / b where that means something: NaN for a non-finite side or a reference of 0 (0
    against 0 included: "no change" is a finding the gate must not be handed for free)."""
    if not math.isfinite(a) or not math.isfinite(b) or b == 0:
        return math.nan
    return a / b


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and counts as no rejection)."""
    order = sorted(range(len(p_values)), key=lambda i: _nan_last(p_values[i]))
    k = len(p_values)
    adjusted = [math.nan] * k
    running = 0.0
    for rank, i in enumerate(order):
        p = p_values[i]
        if not math.isfinite(p):
            continue
        running = max(running, min(1.0, (k - rank) * p))
        adjusted[i] = running
    return adjusted


def holm_pairs(first: Sequence[float], second: Sequence[float]) -> tuple[list[float], list[float]]:
    """Holm's step-down over two hypotheses per comparison that cannot both be true ("not
    worse" and "worse by the minimum effect"), adjusted p-values for each. Each step
    multiplies by the comparisons that still have a hypothesis standing rather than by the
    hypotheses (Shaffer's refinement): when the first true one is rejected every comparison
    with a true one still stands, so there are at least as many as true hypotheses and the
    chance of any false rejection stays at most alpha, at about half Holm's multiplier."""
    k = len(first)
    p_values = [*first, *second]
    order = sorted(range(2 * k), key=lambda i: _nan_last(p_values[i]))
    adjusted = [math.nan] * (2 * k)
    running = 0.0
    for rank, i in enumerate(order):
        p = p_values[i]
        if not math.isfinite(p):
            continue
        standing = len({j % k for j in order[rank:]})
        running = max(running, min(1.0, standing * p))
        adjusted[i] = running
    return adjusted[:k], adjusted[k:]


def _nan_last(p: float) -> float:
    return p if math.isfinite(p) else math.inf


# --- the gate -----------------------------------------------------------------------------------


def decide(
    ev: Evidence,
    policy: Policy = DEFAULT,
    *,
    min_effect: float | None = None,
    p_used: float | None = None,
    family: int = 1,
) -> Decision:
    """The verdict on one comparison. In a family of `family` comparisons, `p_used` is the
    Holm-adjusted p (decide_family passes it)."""
    effect = policy.min_effect if min_effect is None else min_effect
    p = ev.p_value if p_used is None else p_used
    bad = _bad_numbers(ev)
    if bad:
        return Decision("inconclusive", bad, p, Reason.BAD_NUMBERS)
    few = [
        f"{who} n={count}"
        for who, count in ((ev.subject, ev.n), (ev.reference, ev.n_ref))
        if count < policy.min_repeats
    ]
    if few:
        why = f"too few repeats: {' and '.join(few)} < {policy.min_repeats}"
        return Decision("inconclusive", why, p, Reason.TOO_FEW_REPEATS)
    threshold = policy.alpha / family
    if min_p(ev.n, ev.n_ref, ev.sides) >= threshold:
        return Decision(
            "inconclusive",
            f"the U test cannot reach p<{_g(threshold)} with n={ev.n} and {ev.n_ref}"
            + (f" (alpha {policy.alpha:g} over a family of {family})" if family > 1 else "")
            + f": raise the repeats to {repeats_needed(threshold)}",
            p,
            Reason.TEST_CANNOT_FIRE,
        )
    size = abs(ev.ratio - 1.0)
    adjusted = f"Holm-adjusted p={p:.2g}" if family > 1 else f"p={p:.2g}"
    if p < policy.alpha and size >= effect:
        word: Call = "worse" if ev.worse_pct > 0 else "better"
        why = f"{adjusted} < {policy.alpha:g} and {pct(size)} {word} (>= {pct(effect)})"
        return Decision(word, why, p, Reason.CHANGED)
    # Why it was not called, then whether the data rule out a difference that matters.
    if p < policy.alpha:
        why = f"shift {pct(size)} < {pct(effect)} minimum effect ({adjusted})"
        code = Reason.SMALL_SHIFT
    else:
        why = f"{adjusted} >= {policy.alpha:g}"
        code = Reason.NOT_SIGNIFICANT
    problems = _equivalence_problems(ev, policy, effect)
    if problems:
        return Decision("inconclusive", "; ".join([why, *problems]), p, code)
    if p >= policy.alpha:
        why += f"; ratio interval within +-{pct(effect)}"
    return Decision("no difference", why, p, Reason.EQUIVALENT)


def decide_family(
    evidences: Sequence[Evidence],
    policy: Policy = DEFAULT,
    *,
    min_effects: Sequence[float] | None = None,
) -> list[Decision]:
    """Verdicts on comparisons one conclusion rests on together (a claim over k metrics):
    Holm's step-down keeps the chance of any false "better"/"worse" among them <= alpha."""
    effects = list(min_effects) if min_effects is not None else [policy.min_effect] * len(evidences)
    k = len(evidences)
    if k <= 1:
        return [decide(ev, policy, min_effect=e) for ev, e in zip(evidences, effects, strict=True)]
    adjusted = holm([ev.p_value for ev in evidences])
    return [
        decide(ev, policy, min_effect=e, p_used=p, family=k)
        for ev, e, p in zip(evidences, effects, adjusted, strict=True)
    ]


def decide_orderings(
    evidences: Sequence[Evidence],
    no_worse_p: Sequence[float],
    policy: Policy = DEFAULT,
    *,
    min_effects: Sequence[float] | None = None,
) -> list[Decision]:
    """Is each subject worse than its reference, or no worse? `no_worse_p[i]` is
    mwu_no_worse's p for evidences[i] at its minimum effect. Both tests of every comparison
    form one Holm family: "worse" as `decide` gives it (its p adjusted over the family),
    or "better" as `decide` gives it, else "no worse" when worse by the minimum effect is
    ruled out, else "inconclusive" with decide's reason."""
    k = len(evidences)
    effects = list(min_effects) if min_effects is not None else [policy.min_effect] * k
    worse_p, no_worse_adjusted = holm_pairs([ev.p_value for ev in evidences], no_worse_p)
    # one comparison alone (a sequential look, its level already split) is not adjusted
    said = "Holm-adjusted p" if k > 1 else "p"
    decisions = []
    for ev, effect, p_w, p_nw in zip(evidences, effects, worse_p, no_worse_adjusted, strict=True):
        d = decide(ev, policy, min_effect=effect, p_used=p_w, family=k)
        # decide's "no difference" is not taken: its interval test is per comparison, outside
        # the family, and calls a pair worse by just the minimum effect equivalent in ~2% of
        # runs (the calibration's "false no worse"); the one-sided U test answers instead.
        if d.call in ("better", "worse") or not d.armed:
            decisions.append(d)
        elif p_nw < policy.alpha:
            why = (
                f"worse by {pct(effect)} or more ruled out: one-sided U test,"
                f" {said}={p_nw:.2g} < {policy.alpha:g}"
            )
            decisions.append(Decision("no worse", why, p_nw, Reason.NO_WORSE))
        else:
            why = f"{d.reason}; worse by {pct(effect)} not ruled out ({said}={p_nw:.2g})"
            code = Reason.NOT_SIGNIFICANT if d.code == Reason.EQUIVALENT else d.code
            decisions.append(Decision("inconclusive", why, d.p_used, code))
    return decisions


def _bad_numbers(ev: Evidence) -> str:
    problems = [
        f"{bad} {who} value(s) not finite (NaN or inf): fix the workload's output or parser"
        for who, bad in ((ev.subject, ev.bad), (ev.reference, ev.bad_ref))
        if bad
    ]
    for who, count in ((ev.subject, ev.n), (ev.reference, ev.n_ref)):
        if count == 0:
            problems.append(f"no {who} values")
    if not problems and not math.isfinite(ev.ratio):
        if ev.median_ref == 0:
            problems.append(f"{ev.reference} median is 0: no ratio to judge")
        else:
            problems.append(f"{ev.reference} median is not a finite number: no ratio")
    return "; ".join(problems)


def _equivalence_problems(ev: Evidence, policy: Policy, effect: float) -> list[str]:
    """What keeps the data from ruling out a difference that matters."""
    # `not cv <= limit`, not `cv > limit`: a NaN CV (one value, or values that are not
    # numbers) must fail the equivalence test, never pass it as "low noise".
    problems = [
        f"{who} CV {pct(cv)} > {pct(policy.cv_limit)}"
        if math.isfinite(cv)
        else f"{who} CV is not a number: no spread to judge"
        for who, cv in ((ev.subject, ev.cv), (ev.reference, ev.cv_ref))
        if not cv <= policy.cv_limit
    ]
    low, high = ev.ratio_low, ev.ratio_high
    if not (math.isfinite(low) and math.isfinite(high)):
        problems.append("no ratio interval")
    elif not problems and (low < 1.0 - effect or high > 1.0 + effect):
        problems.append(
            f"ratio interval {low:.3g}-{high:.3g} reaches past +-{pct(effect)}:"
            " more repeats would narrow it"
        )
    return problems


def _g(x: float) -> str:
    return f"{x:.2g}"
