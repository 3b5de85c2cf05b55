"""Repeat until decided: planned looks with alpha spending, each look judged by the gate.

A group-sequential design (Lan and DeMets 1983; Jennison and Turnbull, "Group Sequential
Methods", ch. 7). After the minimum repeats a side, and after every further round up to the
largest n, the gate (bench.analysis.gate.decide_family, never a copy of it) judges the
figures with a Policy whose alpha is that look's nominal level. A figure stops at the first
look that calls it "better"/"worse" (decided: DIFFERENT), or "no difference" (SAME), when
its noise bars any call (too noisy), or at the largest n (UNKNOWN).

The spending function is Kim and DeMets' power family, alpha * t^3 (t = n / largest n),
the usual stand-in for O'Brien-Fleming's shape: little early, most at the end. Not
O'Brien-Fleming itself: its first levels (6.6e-5 at n=5 of 12) lie below the smallest p the
exact U test can give at n=5..9 (2/C(2n, n)), so it could not stop before n=10. Not Pocock's:
it spends so much early that the last look's level falls to a third of alpha, and the
adaptive path would then miss what the fixed design at the same largest n finds. With t^3 a
20-fold start-up gap (complete separation) is called at n=7 of 12 (n=6 one-sided).

Why the false-call rate stays <= alpha over every look, whatever the noise's distribution:
under A/A with continuous values the U statistics' joint law over the looks is the same for
every distribution (only the ranks matter), so it is simulated once on uniforms
(NULL_PATHS sequences, seeded), and the p for each U comes from gate.mwu itself (scipy's
normal approximation from n=9 on is counted as it is). Each look's level is the largest that
keeps the simulated chance of a false call by that look within what the spending function
allows, less a SAFETY margin for the simulation's error; what the exact test's
discreteness leaves unspent carries to later looks. When the fixed design's own test at the
largest n leaves room below alpha (it rejects less often than alpha: at n=8 two-sided,
0.0070 of 0.01), the last look keeps alpha itself and the early looks spend only that room:
the adaptive path then calls everything the fixed design calls, and calls it sooner. In a
family of m (a claim resting on m figures) Holm's step-down calls anything only when some
p < level/m, so each figure's path is held to 1/m of the family's allowance.

The stops for "no difference" and "too noisy" are non-binding: they only ever end a figure
without a call, so they can remove false calls and never add one. The calibration in
bench.analysis.calibration_sequential measures it all on skewed, bimodal and outlier data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from bench.analysis import gate
from bench.analysis.groups import FloatArray, boot_medians, cv_of, median_of, percentile_interval

Spending = Literal["pocock", "obrien-fleming", "power"]
# Why a figure stopped: decided (a call at n), or no call: the data showed no difference that
# matters, are too noisy to ever decide, the largest n was reached, the budget ran out, or it
# is still open (the run goes on).
Stop = Literal["decided", "no difference", "too noisy", "max n", "budget", "open"]
Status = Literal["DIFFERENT", "SAME", "UNKNOWN", "OPEN"]
Sides = Literal[1, 2]

MAX_N: Final = 12  # the largest n a side when a budget or suite does not say otherwise
LOOK_RESAMPLES: Final = 1000  # bootstrap draws for a look's ratio interval
POWER_RHO: Final = 3.0
NULL_PATHS: Final = 1_000_000  # simulated A/A sequences the looks' levels are set on
NULL_CHUNK: Final = 100_000
NULL_SEED: Final = 24
ROOM: Final = 0.05  # keep the last look at alpha only if 5% of alpha is left for the rest
SAFETY: Final = 0.95  # room for the simulation's error (its SE: 1% of alpha, 3% of alpha/7)


@dataclass(frozen=True)
class Design:
    """The planned looks: one after min_n repeats a side, then one per round up to max_n.
    Recorded in run.json so a resumed run looks at the same n with the same levels."""

    min_n: int = gate.MIN_REPEATS
    max_n: int = MAX_N
    alpha: float = gate.ALPHA
    spending: Spending = "power"

    def __post_init__(self) -> None:
        if not 2 <= self.min_n <= self.max_n:
            raise ValueError(f"looks from n={self.min_n} to {self.max_n}: need 2 <= min <= max")

    def looks(self) -> tuple[int, ...]:
        return tuple(range(self.min_n, self.max_n + 1))

    def levels(self, family: int = 1, sides: Sides = 2) -> tuple[float, ...]:
        """Each look's nominal alpha (what the gate's Policy gets), for a family of `family`."""
        return _levels(self, family, sides)

    def first_look(self, family: int = 1, sides: Sides = 2) -> int:
        """The first n at which a family of `family` figures can be called at all (`follow`
        skips the looks before it: their level is 0)."""
        levels = self.levels(family, sides)
        return next((n for n, a in zip(self.looks(), levels, strict=True) if a > 0), self.max_n)

    def level_at(self, n: int, family: int = 1, sides: Sides = 2) -> float:
        if n < self.min_n:
            return 0.0
        return self.levels(family, sides)[min(n, self.max_n) - self.min_n]

    def to_json(self) -> dict[str, Any]:
        return {
            "min_n": self.min_n,
            "max_n": self.max_n,
            "alpha": self.alpha,
            "spending": self.spending,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Design:
        return cls(int(data["min_n"]), int(data["max_n"]), float(data["alpha"]), data["spending"])


def spent(t: float, alpha: float, spending: Spending) -> float:
    """The alpha the spending function allows by information fraction t (0..1)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    if spending == "power":  # Kim and DeMets' alpha * t^3: close to O'Brien-Fleming's shape
        return float(alpha * t**POWER_RHO)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    return 2 * (1 - NormalDist().cdf(z / math.sqrt(t)))


@lru_cache(maxsize=256)
def _levels(design: Design, family: int, sides: Sides) -> tuple[float, ...]:
    """Per look, the gate's alpha: the largest cut whose chance of a false call by then, over
    the simulated null paths, stays within what the spending function allows.

    The last look keeps the fixed design's own level (alpha) when the exact test's
    discreteness leaves room for it: the fixed design's test at max n rejects less often
    than alpha (at n=8, two-sided, 0.0070 of 0.01), and the early looks then spend only that
    room, so the adaptive path calls everything the fixed design would, and more.
    """
    paths = _null_paths(design.max_n)
    total = design.alpha / family * SAFETY
    final = _p_table(design.max_n, sides)[paths[:, -1]] < design.alpha / family
    protect = bool(np.mean(final) <= total * (1 - ROOM))
    crossed = final.copy() if protect else np.zeros(paths.shape[0], dtype=bool)
    out: list[float] = []
    for n in design.looks():
        if protect and n == design.max_n:
            out.append(design.alpha)
            break
        allowed = spent(n / design.max_n, design.alpha, design.spending) / family * SAFETY
        table = _p_table(n, sides)
        p = table[paths[:, n - 1]]
        attainable = np.unique(table)
        cut = 0.0
        for i, value in enumerate(attainable):
            upper = attainable[i + 1] if i + 1 < attainable.size else 1.0
            trial = (value + upper) / 2  # between two attainable p: rejects p <= value
            more = crossed | (p < trial)
            if np.mean(more) > (total if protect else allowed):
                break
            if protect and np.mean(more & ~final) > allowed:
                break
            cut = trial
        crossed |= p < cut
        out.append(float(min(design.alpha, cut * family)))
    return tuple(out)


@lru_cache(maxsize=8)
def _null_paths(max_n: int) -> npt.NDArray[np.int16]:
    """U (x over y) at n = 1..max_n a side on NULL_PATHS simulated A/A sequences: under A/A
    with continuous values its law is the same for every distribution, so uniforms serve."""
    rng = np.random.default_rng(NULL_SEED)
    chunks = []
    for _ in range(NULL_PATHS // NULL_CHUNK):
        x = rng.random((NULL_CHUNK, max_n))
        y = rng.random((NULL_CHUNK, max_n))
        u = np.zeros((NULL_CHUNK, max_n), dtype=np.int16)
        running = np.zeros(NULL_CHUNK, dtype=np.int16)
        for k in range(max_n):  # look k + 1 adds x[k] against y[:k+1] and x[:k] against y[k]
            running = running + (x[:, k : k + 1] > y[:, : k + 1]).sum(axis=1, dtype=np.int16)
            running = running + (x[:, :k] > y[:, k : k + 1]).sum(axis=1, dtype=np.int16)
            u[:, k] = running
        chunks.append(u)
    return np.concatenate(chunks)


@lru_cache(maxsize=256)
def _p_table(n: int, sides: Sides) -> FloatArray:
    """The p gate.mwu gives at n a side for every U = 0..n*n (the normal approximation that
    scipy uses from n=8 is counted as it is)."""
    alternative: gate.Alternative = "two-sided" if sides == 2 else "less"
    return np.array([_p_for_u(n, n, u, alternative) for u in range(n * n + 1)])


def _p_for_u(n1: int, n2: int, u: int, alternative: gate.Alternative) -> float:
    """The p gate.mwu gives for two samples without ties whose U (x over y) is u."""
    y = np.arange(n2, dtype=np.float64)
    below = [min(n2, max(0, u - n2 * i)) for i in range(n1)]  # y values under each x
    x = np.array([b - 0.5 + i * 1e-6 for i, b in enumerate(below)])
    return gate.mwu(x, y, alternative)


# --- judging a family over its looks -----------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One figure of a family: a subject's values against a reference's, in round order."""

    label: str
    subject: str
    reference: str
    values: Sequence[float]
    ref_values: Sequence[float]
    higher_is_better: bool
    min_effect: float = gate.MIN_EFFECT
    expect: Literal["better", "worse"] = "better"  # what a one-sided test looks for


@dataclass(frozen=True)
class Outcome:
    """Where a figure stands: its call, the n it was decided at (or last looked at), and why
    it stopped."""

    label: str
    status: Status
    call: gate.Call
    n: int
    stop: Stop
    reason: str
    level: float  # the nominal alpha of the look that gave the call
    code: gate.Reason  # the gate's reason at that look, as data

    @property
    def open(self) -> bool:
        return self.stop == "open"

    @property
    def decided_call(self) -> gate.Call:
        """The call the looks stand by: the one they decided, else inconclusive (a call seen at
        the last look without deciding is not one)."""
        return self.call if self.stop == "decided" else "inconclusive"

    def text(self) -> str:
        if self.stop == "decided":
            return f"decided at n={self.n}"
        if self.stop == "no difference":
            return f"no difference at n={self.n}"
        if self.stop == "open":
            return f"open at n={self.n}"
        return {
            "too noisy": f"stopped at n={self.n}: too noisy to decide",
            "max n": f"stopped at n={self.n}: largest n reached",
            "budget": f"stopped at n={self.n}: budget spent",
        }[self.stop]


def follow(
    members: Sequence[Member],
    design: Design,
    *,
    sides: Sides = 2,
    finished: bool = False,
    resamples: int = LOOK_RESAMPLES,
    seed: int = 0,
) -> list[Outcome]:
    """The family's looks replayed on the values so far (the first n of each side at look n).

    A "better"/"worse" at any look sticks (the union bound covers a call at any look); the
    family stops when every member has one or shows no difference at the same look, or a
    member is too noisy to ever decide. `finished`: no more values will come (the budget is
    spent or the run ended): what is still open says why. Pure and deterministic.
    """
    sticky: dict[int, Outcome] = {}
    last: list[Outcome] = []
    for n, policy in _looks_reached(members, design, _policies(design, len(members), sides)):
        evidences = [look_evidence(m, n, sides, resamples, seed) for m in members]
        effects = [m.min_effect for m in members]
        decisions = gate.decide_family(evidences, policy, min_effects=effects)
        last = []
        for i, (m, ev, d) in enumerate(zip(members, evidences, decisions, strict=True)):
            if i not in sticky and d.call in ("better", "worse"):
                sticky[i] = Outcome(
                    m.label, "DIFFERENT", d.call, n, "decided", d.reason, policy.alpha, d.code
                )
            last.append(
                sticky.get(i)
                or Outcome(
                    m.label,
                    _status(d.call),
                    d.call,
                    n,
                    _stop(d.call, ev, m, policy, _far(n, design)),
                    d.reason,
                    policy.alpha,
                    d.code,
                )
            )
        if all(o.stop in ("decided", "no difference") for o in last):
            return last
        if any(o.stop == "too noisy" for o in last):
            return [
                o if o.stop in ("decided", "too noisy") else _ended(o, "too noisy") for o in last
            ]
        if n >= design.max_n:
            return [o if o.stop == "decided" else _ended(o, "max n") for o in last]
    return _unfinished(members, design, last, finished)


def follow_orderings(
    members: Sequence[Member],
    design: Design,
    *,
    finished: bool = False,
    resamples: int = LOOK_RESAMPLES,
    seed: int = 0,
) -> list[Outcome]:
    """An ordering family's looks (the classic table: is each subject worse than its
    reference, or no worse?), each member judged by gate.decide_orderings at the look's level
    split over both tests of every member: "worse" by the one-sided U test toward worse and
    the minimum effect, "no worse" when the one-sided U test rules out worse by the minimum
    effect (a subject better than its reference is answered so). Either sticks and stops the
    member; a member goes on to the largest n otherwise. No stop for noise: "no worse" needs
    no CV limit, only repeats.

    Bonferroni over the 2k one-sided tests, not the fixed table's Holm over k two-sided
    comparisons: the looks' levels hold each test's path to its share of the family's
    allowance, with no step-down (Holm's relaxes once true "worse" rows are called, which
    the levels were not set for) and no reliance on a row's two nulls excluding each other.
    At k shares, with Holm or Bonferroni alike, the simulated tables with every subject
    worse by exactly the minimum effect answered "no worse" 7 times in 300 (2.3%); at 2k,
    2 in 300. One-sided, because a two-sided p
    under scipy's normal approximation cannot reach 1/28 of alpha before n=10, and the VM's
    rows would cost two rounds more than the fixed table's 8. Calibrated by
    bench.analysis.classic_calibration (adaptive)."""
    tests = ordering_tests(len(members))
    policy_for = _policies(design, tests, 1)
    return [
        _follow_ordering(m, design, policy_for, tests, finished, resamples, seed) for m in members
    ]


def _follow_ordering(
    m: Member,
    design: Design,
    policy_for: Callable[[int], gate.Policy],
    tests: int,
    finished: bool,
    resamples: int,
    seed: int,
) -> Outcome:
    """One member's looks, as far as its own values reach: under Bonferroni its tests stand
    alone, so a member is looked at up to its own n however far the family's others got (a
    row the run stopped at n=8, the VM's, does not hold the others' looks at 8)."""
    toward_worse = replace(m, expect="worse")
    last: list[Outcome] = []
    for n, policy in _looks_reached([m], design, policy_for):
        each = replace(policy, alpha=policy.alpha / tests)
        no_worse = gate.mwu_no_worse(
            _finite(m.values[:n]), _finite(m.ref_values[:n]), m.higher_is_better, m.min_effect
        )
        evidence = look_evidence(toward_worse, n, 1, resamples, seed)
        d = gate.decide_orderings([evidence], [no_worse], each, min_effects=[m.min_effect])[0]
        if d.call in ORDERED:
            status: Status = "DIFFERENT" if d.call == "worse" else "SAME"
            return Outcome(m.label, status, d.call, n, "decided", d.reason, policy.alpha, d.code)
        last = [Outcome(m.label, "OPEN", d.call, n, "open", d.reason, policy.alpha, d.code)]
        if n >= design.max_n:
            return _ended(last[0], "max n")
    return _unfinished([m], design, last, finished)[0]


ORDERED: Final = ("worse", "no worse")  # an ordering's answers: each one decides


def ordering_tests(members: int) -> int:
    """How many shares an ordering family's allowance is split into: two one-sided tests a
    member (its looks' levels are those of a family of that many, one-sided)."""
    return 2 * members


def _reached(members: Sequence[Member]) -> int:
    """The n a side every member has reached (a look at n reads the first n values)."""
    return min((min(len(m.values), len(m.ref_values)) for m in members), default=0)


def _looks_reached(
    members: Sequence[Member], design: Design, policy_for: Callable[[int], gate.Policy]
) -> Iterator[tuple[int, gate.Policy]]:
    """The looks the values so far reach, each with its policy; a look before the largest n
    whose level is 0 is skipped: nothing is reachable there, so no call and no stop."""
    reached = _reached(members)
    for n in design.looks():
        if n > reached:
            return
        policy = policy_for(n)
        if policy.alpha > 0 or n >= design.max_n:
            yield n, policy


def _unfinished(
    members: Sequence[Member], design: Design, last: Sequence[Outcome], finished: bool
) -> list[Outcome]:
    """A family the looks have not ended: still open, or stopped by the budget (`finished`)."""
    ending: Stop = "budget" if finished else "open"
    if last:
        return [o if o.stop == "decided" else _ended(o, ending) for o in last]
    reached = _reached(members)
    # not yet at a look that can call anything
    few = reached < design.min_n
    why = (
        f"fewer than {design.min_n} repeats a side"
        if few
        else f"no call is reachable yet at n={reached}"
    )
    code = gate.Reason.TOO_FEW_REPEATS if few else gate.Reason.TEST_CANNOT_FIRE
    status: Status = "UNKNOWN" if finished else "OPEN"
    return [
        Outcome(m.label, status, "inconclusive", reached, ending, why, 0.0, code) for m in members
    ]


def _policies(design: Design, family: int, sides: Sides) -> Callable[[int], gate.Policy]:
    def policy(n: int) -> gate.Policy:
        return replace(gate.DEFAULT, alpha=design.level_at(n, family, sides))

    return policy


def _status(call: gate.Call) -> Status:
    if call in ("better", "worse"):
        return "DIFFERENT"
    return "SAME" if call == "no difference" else "OPEN"


def _stop(call: gate.Call, ev: gate.Evidence, m: Member, policy: gate.Policy, far: float) -> Stop:
    if call in ("better", "worse"):
        return "decided"
    if call == "no difference":
        return "no difference"
    if _too_noisy(ev, m.min_effect, policy, far):
        return "too noisy"
    return "open"


def _far(n: int, design: Design) -> float:
    """How much the ratio's interval would still shrink by the largest n (0: not judged yet:
    before half-way through the looks, "too noisy" is not called)."""
    if 2 * n < design.min_n + design.max_n:
        return 0.0
    return math.sqrt(n / design.max_n)


def _too_noisy(ev: gate.Evidence, effect: float, policy: gate.Policy, far: float) -> bool:
    """No call is in reach: a CV over the limit bars "no difference" at any n, and the
    ratio's whole interval lies inside +-min_effect, so a difference that matters is not in
    sight either (judged from half-way through the looks on: `far` > 0)."""
    if far == 0.0 or max(ev.cv, ev.cv_ref) <= policy.cv_limit:
        return False
    low, high = ev.ratio_low, ev.ratio_high
    return 1 - effect < low and high < 1 + effect


def _ended(o: Outcome, stop: Stop) -> Outcome:
    return replace(o, status="UNKNOWN", stop=stop)


def look_evidence(
    m: Member, n: int, sides: Sides = 2, resamples: int = LOOK_RESAMPLES, seed: int = 0
) -> gate.Evidence:
    """What the gate reads of a member at look n: its first n values a side."""
    raw, raw_ref = m.values[:n], m.ref_values[:n]
    x, y = _finite(raw), _finite(raw_ref)
    rng = np.random.default_rng([seed, n, len(m.label)])
    median_ref = median_of(y)
    ratio = gate.safe_ratio(median_of(x), median_ref)
    low = high = math.nan
    if x.size >= 2 and y.size >= 2 and math.isfinite(ratio):
        with np.errstate(divide="ignore", invalid="ignore"):
            draws = boot_medians(x, resamples, rng) / boot_medians(y, resamples, rng)
        low, high = percentile_interval(draws, gate.DEFAULT.confidence)
    return gate.Evidence(
        subject=m.subject,
        reference=m.reference,
        higher_is_better=m.higher_is_better,
        n=int(x.size),
        n_ref=int(y.size),
        ratio=ratio,
        ratio_low=low,
        ratio_high=high,
        p_value=gate.mwu(x, y, _alternative(m, sides)),
        cv=cv_of(x)[2],
        cv_ref=cv_of(y)[2],
        bad=len(raw) - int(x.size),
        bad_ref=len(raw_ref) - int(y.size),
        median_ref=median_ref,
        sides=sides,
    )


def _alternative(m: Member, sides: Sides) -> gate.Alternative:
    """One-sided: the claim says the subject is better (or worse), so its values lie below
    the reference's when lower is better (or higher is), above otherwise."""
    if sides == 2:
        return "two-sided"
    return "greater" if m.higher_is_better == (m.expect == "better") else "less"


def _finite(values: Sequence[float]) -> FloatArray:
    a = np.asarray(values, dtype=np.float64)
    return np.sort(a[np.isfinite(a)])
