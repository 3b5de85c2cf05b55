"""The run-level check: across nights the run is the unit, and a change is screened, then confirmed.

Repeats inside one run share that run's boot, page cache, CPU frequency and neighbours, so a
test on them understates how much two runs of the same thing differ (Kalibera and Jones,
"Rigorous Benchmarking in Reasonable Time", ISMM 2013). Here every figure contributes one
number per run, the log of its median, and its noise between runs is the spread of those
numbers over the host's own earlier comparable runs (the history).

1. Screen. Tonight's run is a *suspect* when it lies outside the history's prediction interval
   (Student's t with the history's mean and standard deviation, two-sided at
   `policy.screen_alpha`) *and* its change from the history's centre is at least the minimum
   effect. Suspects are shown, never acted on: at 150 figures a night, some are always there.
2. Confirm. Only fresh runs, measured after the screen, can confirm a suspect: their mean log
   median, tested one-sided in the screened direction against the same history, must reach
   p < `policy.alpha` divided by the number of figures screened (Bonferroni), and their median
   must again move by at least the minimum effect.

Why a night with no change fails at most `alpha` of the time: exit 3 needs some figure's
combined test to reach alpha / F, and each of the F tests, taken alone and unselected, rejects
with probability alpha / F (the t prediction is exact for normal run effects); the union of F
such events has probability at most alpha, whatever the screen chose. A Holm family over the
suspects alone looks cheaper but is not valid: the screen and the confirmation share the
history (see `confirm`). bench.analysis.calibration_nightly measures the whole check on
skewed, bimodal and outlier-ridden repeats with run effects of 0.5-3% of the median.

Why log medians: the median is robust to a repeat hit by interference inside a run, and logs
make the spread a fraction of the level, so a 3% noise means the same at 100 and at 10^6.
Robust across runs by exclusion, not by a robust scale: runs the harness flagged (busy host,
failed trials of the figure) never enter a history, and a confirmed change starts the figure's
history anew. A median-and-MAD scale would be anti-conservative at the 6 to 20 runs a history
holds (it understates the spread of small samples), so the t prediction uses the mean and
standard deviation, whose small-sample behaviour is exact.

Pure and vectorised over figures (NaN pads a shorter history): the calibration runs the same
functions on thousands of simulated nights.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from bench.analysis.gate import DEFAULT, Policy, pct

FloatArray = NDArray[np.float64]


class RunStatus(StrEnum):
    """Where a figure stands across runs: typed, so readers branch on it, never on prose."""

    LEARNING = "learning"  # fewer comparable earlier runs than policy.min_history
    IN_RANGE = "in range"
    SUSPECT = "suspect"  # screened: awaits fresh runs to confirm it
    CONFIRMED = "confirmed"  # fresh runs confirmed the change (exit 3 when worse)
    NOT_CONFIRMED = "not confirmed"  # fresh runs did not: noise between runs
    BAD_NUMBERS = "bad numbers"  # tonight's median is not a positive finite number


@dataclass(frozen=True)
class Screen:
    """The screen of every figure of one run: arrays, one entry per figure."""

    n_history: NDArray[np.int64]
    centre: FloatArray  # the history's mean log median
    spread: FloatArray  # the history's standard deviation of log medians (between runs)
    change: FloatArray  # tonight against the centre, as a fraction, positive = worse
    p: FloatArray  # two-sided prediction p (NaN while learning)
    low: FloatArray  # the prediction interval, in the figure's unit
    high: FloatArray
    status: tuple[RunStatus, ...]


def _worse_sign(higher_is_better: FloatArray | NDArray[np.bool_]) -> FloatArray:
    """+1 where a larger value is worse (a latency), -1 where it is better (a throughput)."""
    return np.where(np.asarray(higher_is_better, dtype=bool), -1.0, 1.0)


def worse_change(log_new: FloatArray, centre: FloatArray, hib: NDArray[np.bool_]) -> FloatArray:
    """The change of `log_new` from `centre` as a fraction of the centre, positive = worse."""
    with np.errstate(invalid="ignore", over="ignore"):
        return _worse_sign(hib) * np.expm1(log_new - centre)


def history_moments(history: FloatArray) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Per row (figure) of log medians, NaN-padded: the count, mean and standard deviation."""
    n = np.sum(np.isfinite(history), axis=1).astype(np.int64)
    # nanstd warns for rows with one value; their spread is NaN by the np.where below anyway.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(np.where(n[:, None] > 0, history, 0.0), axis=1)
        centre = np.where(n > 0, centre, np.nan)
        spread = np.where(
            n >= 2, np.nanstd(np.where(n[:, None] >= 2, history, 0.0), axis=1, ddof=1), np.nan
        )
    return n, centre, spread


def _t_scale(spread: FloatArray, n_history: NDArray[np.int64], n_new: FloatArray) -> FloatArray:
    """The standard error of (new mean - history mean) for `n_new` fresh runs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return spread * np.sqrt(1.0 / n_new + 1.0 / n_history)


def screen(
    history: FloatArray,
    tonight: FloatArray,
    higher_is_better: NDArray[np.bool_],
    min_effect: FloatArray,
    policy: Policy = DEFAULT,
) -> Screen:
    """Screen tonight's log medians (one per figure) against each figure's history (rows of
    earlier runs' log medians, NaN-padded)."""
    n, centre, spread = history_moments(history)
    learning = n < policy.min_history
    bad = ~np.isfinite(tonight)
    dof = np.maximum(n - 1, 1).astype(np.float64)
    scale = _t_scale(spread, n, np.ones_like(centre))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (tonight - centre) / scale
        # A history without spread (identical readings): any difference is beyond it, none is in.
        t = np.where(
            scale > 0, t, np.where(tonight == centre, 0.0, np.sign(tonight - centre) * np.inf)
        )
        p = 2.0 * sps.t.sf(np.abs(t), dof)
        q = sps.t.ppf(1.0 - policy.screen_alpha / 2.0, dof)
        low = np.exp(centre - q * scale)
        high = np.exp(centre + q * scale)
    change = worse_change(tonight, centre, higher_is_better)
    p = np.where(learning | bad, np.nan, p)
    flagged = (p < policy.screen_alpha) & (np.abs(change) >= min_effect)
    status = tuple(
        RunStatus.BAD_NUMBERS
        if bad[i]
        else RunStatus.LEARNING
        if learning[i]
        else RunStatus.SUSPECT
        if flagged[i]
        else RunStatus.IN_RANGE
        for i in range(len(tonight))
    )
    return Screen(n, centre, spread, change, p, low, high, status)


@dataclass(frozen=True)
class Suspect:
    """A figure screened as changed, with what its confirmation needs: the history it was
    screened against (as moments) and the direction of the change."""

    n_history: int
    centre: float
    spread: float
    change: float  # the screened change, positive = worse
    higher_is_better: bool
    min_effect: float


@dataclass(frozen=True)
class Confirmation:
    status: RunStatus  # CONFIRMED or NOT_CONFIRMED
    change: float  # the fresh runs' mean against the history, a fraction, positive = worse
    p: float  # one-sided, in the screened direction
    p_adjusted: float  # Bonferroni over the night's family (every figure that could be tested)
    runs: int  # how many fresh runs were measured
    reason: str


def confirm(
    suspects: Sequence[Suspect],
    fresh: Sequence[Sequence[float]],
    family: int,
    policy: Policy = DEFAULT,
) -> list[Confirmation]:
    """Each suspect's fresh runs (`fresh[i]`, log medians measured after the screen) against
    the history it was screened on. Confirmed when both hold:
    - their mean, one-sided in the screened direction, reaches p < alpha / `family`, where the
      family is every figure the screen judged (Bonferroni), not just the suspects;
    - their median moved at least the minimum effect the same way.

    Why Bonferroni over every screened figure rather than Holm over the suspects: the screen and
    the confirmation share the history, so a figure whose history happened to sit low is both
    likelier to be screened and likelier to be confirmed, and a p-value read after the screen is
    no longer valid (measured: 3.7 times alpha at 20 runs of history, 16 times at 6). A test of
    fresh runs at alpha over every figure that could have been tested is valid whatever the
    screen chose: the screen only decides which fresh runs to pay for.
    Why fresh runs only, and their median too: a run with half its repeats hit by interference
    has a median far off, a tail no t distribution has; the screen picks exactly such runs, so
    the screened run is left out (with it in, 3% of quiet nights ended in exit 3), and the
    median keeps one such fresh run from dragging the mean past the bound. Both only remove
    confirmations, so the bound above still holds.
    """
    out = []
    for s, values in zip(suspects, fresh, strict=True):
        runs = np.asarray(values, dtype=np.float64)
        runs = runs[np.isfinite(runs)]
        p, change, typical = _one_sided_p(s, runs)
        p_adj = min(1.0, p * max(family, 1)) if math.isfinite(p) else math.nan
        same_way = math.isfinite(change) and change * s.change > 0 and typical * s.change > 0
        big = math.isfinite(typical) and abs(typical) >= s.min_effect
        called = math.isfinite(p_adj) and p_adj < policy.alpha and same_way and big
        seen = f"{runs.size} fresh run(s): mean {change * 100:+.1f}%, median {typical * 100:+.1f}%"
        if runs.size == 0:
            why = "no fresh run measured it"
        elif called:
            why = (
                f"{seen} against {s.n_history} earlier runs, p={p:.2g} x {family} figures"
                f" = {p_adj:.2g} < {policy.alpha:g}"
            )
        elif not same_way:
            why = f"{seen}: not the screened way"
        elif not big:
            why = f"{seen}: under the minimum effect {pct(s.min_effect)}"
        else:
            why = (
                f"{seen}, p={p:.2g} x {family} figures = {p_adj:.2g} >= {policy.alpha:g}:"
                " within the noise between runs"
            )
        status = RunStatus.CONFIRMED if called else RunStatus.NOT_CONFIRMED
        out.append(Confirmation(status, change, p, p_adj, int(runs.size), why))
    return out


def _one_sided_p(s: Suspect, runs: FloatArray) -> tuple[float, float, float]:
    """The fresh runs' one-sided p, in the screened direction, against the history; the change
    of their mean and of their median (fractions, positive = worse)."""
    if runs.size == 0 or s.n_history < 2 or not math.isfinite(s.spread):
        return math.nan, math.nan, math.nan
    mean = float(runs.mean())
    hib = np.array([s.higher_is_better])
    centre = np.array([s.centre])
    change = float(worse_change(np.array([mean]), centre, hib)[0])
    typical = float(worse_change(np.array([float(np.median(runs))]), centre, hib)[0])
    direction = 1.0 if s.change > 0 else -1.0  # +1: the suspect got worse
    worse_log = -(mean - s.centre) if s.higher_is_better else mean - s.centre
    scale = s.spread * math.sqrt(1.0 / runs.size + 1.0 / s.n_history)
    if scale <= 0:
        return (0.0 if direction * worse_log > 0 else 1.0), change, typical
    t = direction * worse_log / scale
    return float(sps.t.sf(t, s.n_history - 1)), change, typical


def learning_text(n_history: int, policy: Policy = DEFAULT) -> str:
    more = policy.min_history - n_history
    return (
        f"learning this host's noise between runs: {n_history} comparable earlier run(s),"
        f" {more} more needed"
    )


RULE: Final = (
    "each figure's median per run against the host's comparable earlier runs: a suspect lies"
    " outside the history's {screen} prediction interval and moved at least the minimum effect;"
    " only fresh runs confirm it, one-sided at p < {alpha} over every figure screened"
    " (Bonferroni), their median again beyond the minimum effect"
)


def rule_text(policy: Policy = DEFAULT) -> str:
    return (
        RULE.format(screen=pct(1.0 - policy.screen_alpha), alpha=f"{policy.alpha:g}")
        + f"; {policy.min_history} to {policy.history_window} earlier runs"
    )
