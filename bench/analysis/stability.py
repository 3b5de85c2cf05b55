"""Warnings as data with advice (as hyperfine's): few repeats, a high CV, outliers, a slow
first repeat, and about the run as a whole (failed trials, a busy host, emulated VMs). Pure:
samples in, StatWarnings out; the report and the exports word them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final, Literal

import numpy as np
import pandas as pd

from bench.analysis import gate
from bench.analysis.groups import NEEDED, Group, cv_of, measured_rows, sample_groups

WarningCode = Literal[
    "high-cv", "outliers", "slow-first", "few-repeats", "failed-trials", "busy-host", "emulated"
]
WARNING_CODES: Final[tuple[WarningCode, ...]] = (
    "high-cv",
    "outliers",
    "slow-first",
    "few-repeats",
    "failed-trials",
    "busy-host",
    "emulated",
)

# Iglewicz & Hoaglin: 0.6745 makes the MAD a consistent estimate of sigma for normal data;
# 1.253314 (sqrt(pi/2)) does the same for the mean absolute deviation, the fallback when more
# than half the values are equal and the MAD is 0.
_MAD_Z: Final = 0.6745
_MEAN_AD_SCALE: Final = 1.253314
_SLOW_FIRST_MIN: Final = 0.10
_SLOW_FIRST_CVS: Final = 3.0


@dataclass(frozen=True)
class StatWarning:
    """Something the reader of a result should know, and what to do about it."""

    code: WarningCode
    subject: str  # "workload/metric/platform", or "run" for the whole run
    message: str  # what was seen
    advice: str  # what to do about it


def stability_warnings(
    samples: pd.DataFrame,
    *,
    cv_limit: float = gate.DEFAULT.cv_limit,
    min_repeats: int = gate.DEFAULT.min_repeats,
    mad_k: float = 3.5,
    min_deviation: float = 0.05,
) -> list[StatWarning]:
    """Per (workload, metric, platform): few repeats, high CV, outliers, a slow first repeat.

    An outlier has a modified z-score (0.6745 * |x - median| / MAD) above mad_k, raised for
    large n to the score that clean normal noise of n values exceeds only 1% of the time (with
    3.5 fixed, 1000 clean values would warn 4 runs in 10), and lies at least `min_deviation`
    from the median: with a small MAD, a value 2% off scores high yet changes no verdict.
    """
    warnings: list[StatWarning] = []
    for g, frame in sample_groups(measured_rows(samples, (*NEEDED, "round"))):
        n = int(g.values.size)
        if n < min_repeats:
            warnings.append(
                StatWarning(
                    "few-repeats",
                    g.subject,
                    f"only {n} measured repeat{'s' if n != 1 else ''} (< {min_repeats})",
                    f"raise repeats to at least {min_repeats}: with fewer, no difference can be"
                    " told apart from noise",
                )
            )
        cv = cv_of(g.values)[2]
        if n >= 2 and not cv <= cv_limit:  # a NaN CV (a value that is not a number) warns too
            seen = f"CV {gate.pct(cv)}" if np.isfinite(cv) else "CV not a number"
            warnings.append(
                StatWarning(
                    "high-cv",
                    g.subject,
                    f"{seen} > {gate.pct(cv_limit)}: the repeats disagree",
                    "close other programs, pin CPUs, raise repeats or duration",
                )
            )
        warnings.extend(_outliers(g, frame, mad_k, min_deviation))
        warnings.extend(_slow_first(g, frame))
    return warnings


def _outliers(
    g: Group, frame: pd.DataFrame, mad_k: float, min_deviation: float
) -> list[StatWarning]:
    n = int(g.values.size)
    if n < 3:
        return []
    values = frame["value"].to_numpy(dtype=np.float64)
    centre = float(np.median(values))
    deviation = np.abs(values - centre)
    mad = float(np.median(deviation))
    if mad > 0:
        z = _MAD_Z * deviation / mad
    else:
        mean_ad = float(deviation.mean())
        if mean_ad == 0:
            return []  # all values equal
        z = deviation / (_MEAN_AD_SCALE * mean_ad)
    limit = max(mad_k, NormalDist().inv_cdf(1 - 0.005 / n))
    flagged = (z > limit) & (deviation >= min_deviation * abs(centre))
    count = int(flagged.sum())
    if not count:
        return []
    rounds = sorted({int(r) for r in frame["round"].to_numpy()[flagged]})
    shown = ", ".join(str(r) for r in rounds[:8]) + (", ..." if len(rounds) > 8 else "")
    return [
        StatWarning(
            "outliers",
            g.subject,
            f"{count} of {n} values far from the median (modified z-score > {limit:.3g})"
            f" in round{'s' if len(rounds) != 1 else ''} {shown}",
            "something else likely ran then: keep the host idle and rerun; the median"
            " shrugs off a few outliers, the mean and CV do not",
        )
    ]


def _slow_first(g: Group, frame: pd.DataFrame) -> list[StatWarning]:
    rounds = frame["round"].to_numpy()
    values = frame["value"].to_numpy(dtype=np.float64)
    first_round = rounds.min()
    first = values[rounds == first_round]
    rest = values[rounds != first_round]
    if rest.size < 2:
        return []
    rest_median = float(np.median(rest))
    if rest_median == 0:
        return []
    # Worse by more than the noise could explain (3 CVs of the rest), and by at least 10%.
    _, _, rest_cv = cv_of(rest)
    limit = max(_SLOW_FIRST_CVS * (rest_cv if math.isfinite(rest_cv) else 0.0), _SLOW_FIRST_MIN)
    worse = gate.worse_pct(float(np.median(first)) / rest_median, g.higher_is_better) / 100
    if worse <= limit:
        return []
    return [
        StatWarning(
            "slow-first",
            g.subject,
            f"the first measured repeat (round {first_round}) is {gate.pct(worse)} worse than the"
            f" median of the rest",
            "it still pays start-up costs (cold caches, page faults, CPU frequency ramp-up):"
            " raise warmup so that they fall on the warm-up runs",
        )
    ]


def run_warnings(
    *, failed_trials: int, total_trials: int, busy: Sequence[str], accel: str
) -> list[StatWarning]:
    """Warnings about the run as a whole: failed trials, a busy host, emulated VMs."""
    warnings: list[StatWarning] = []
    if failed_trials > 0:
        warnings.append(
            StatWarning(
                "failed-trials",
                "run",
                f"{failed_trials} of {total_trials} trials failed; figures rest on the rest",
                "read the failed trials' error and cause, fix what broke, and rerun them",
            )
        )
    reasons = [r for r in busy if r]
    if reasons:
        warnings.append(
            StatWarning(
                "busy-host",
                "run",
                "the host was busy: " + "; ".join(reasons),
                "stop other jobs (and let the host settle) before measuring, then rerun",
            )
        )
    if accel == "tcg":
        warnings.append(
            StatWarning(
                "emulated",
                "run",
                "VM figures measure software emulation (TCG), not hardware virtualisation",
                "run on a host where KVM works for VM figures",
            )
        )
    return warnings
