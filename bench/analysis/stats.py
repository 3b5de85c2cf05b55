"""Statistics for vcbench: medians with bootstrap intervals, verdicts, warnings, change points.

Pure on purpose: data in, data out. This module imports only the standard library, numpy,
pandas and scipy (nothing from bench/), does no I/O, keeps no state and draws random numbers
only from a generator seeded by the caller, so every figure in a report can be recomputed
from the samples alone, and tested on synthetic data with known answers.

Choices, and why:
- Medians, not means: benchmark noise is one-sided (interference only ever slows a run down),
  so the median is the robust centre; means and standard deviations are reported for the CV.
- Mann-Whitney U for "is there a difference": no normality assumption, robust to outliers.
- A difference is called only when it is both significant (p < alpha) and large enough to
  matter (|effect| >= min_effect): with thousands of samples a 0.1% shift is "significant"
  and meaningless. "No difference" is said only when the data could have shown one: enough
  repeats, a test that can reach alpha, a low CV, and a ratio interval inside +-min_effect.
  Anything else is "inconclusive", with the reason.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis import gate
from bench.core.platform_names import platform_key

__all__ = [
    "COMPARE_COLUMNS",
    "MARKS",
    "SUMMARY_COLUMNS",
    "VERDICTS",
    "WARNING_CODES",
    "StatWarning",
    "WarningCode",
    "compare",
    "run_warnings",
    "stability_warnings",
    "summarize",
]

FloatArray = npt.NDArray[np.float64]

KEYS: Final = ("workload", "metric", "platform")

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
    "armed",
)

# "better"/"worse" rather than "faster"/"slower": for a latency lower is better, and the
# verdict must read the same way whatever the metric's direction.
VERDICTS: Final = ("baseline", "better", "worse", "no difference", "inconclusive")
MARKS: Final = ("better", "worse", "not significant", "not comparable")

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

_NEEDED = ("workload", "metric", "platform", "warmup", "value", "unit", "higher_is_better")
# Iglewicz & Hoaglin: 0.6745 makes the MAD a consistent estimate of sigma for normal data;
# 1.253314 (sqrt(pi/2)) does the same for the mean absolute deviation, the fallback when more
# than half the values are equal and the MAD is 0.
_MAD_Z: Final = 0.6745
_MEAN_AD_SCALE: Final = 1.253314
_SLOW_FIRST_MIN: Final = 0.10
_SLOW_FIRST_CVS: Final = 3.0
_NAN: Final = float("nan")


@dataclass(frozen=True)
class StatWarning:
    """Something the reader of a result should know, and what to do about it."""

    code: WarningCode
    subject: str  # "workload/metric/platform", or "run" for the whole run
    message: str  # what was seen
    advice: str  # what to do about it


# --- helpers -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Group:
    workload: str
    metric: str
    platform: str
    unit: str
    higher_is_better: bool
    values: FloatArray  # the finite values, sorted: the bootstrap and the median want it sorted
    bad: int  # values that were not finite numbers: the gate refuses to judge them
    hashes: frozenset[str]
    accels: frozenset[str]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.workload, self.metric, self.platform)

    @property
    def subject(self) -> str:
        return "/".join(self.key)


def _measured(samples: pd.DataFrame, needed: Sequence[str] = _NEEDED) -> pd.DataFrame:
    """The rows that count: warm-ups dropped, values as floats (NaN where not a number: the
    groups count them, and the gate says why it will not judge them)."""
    missing = [c for c in needed if c not in samples.columns]
    if missing:
        raise ValueError(f"samples lack column(s): {', '.join(missing)}")
    warm = samples["warmup"].fillna(False).astype(bool).to_numpy()
    values = pd.to_numeric(samples["value"], errors="coerce").to_numpy(dtype=np.float64)
    out = samples.iloc[np.flatnonzero(~warm)].copy()
    out["value"] = values[~warm]
    return out


def _strings(column: pd.Series) -> frozenset[str]:
    return frozenset(str(v) for v in column.dropna().unique())


def _groups(measured: pd.DataFrame) -> Iterator[tuple[_Group, pd.DataFrame]]:
    """One group per (workload, metric, platform), in order of first appearance; the frame
    holds the group's finite values."""
    if measured.empty:
        return
    for key, frame in measured.groupby(list(KEYS), sort=False):
        workload, metric, platform = (str(k) for k in key)
        raw = frame["value"].to_numpy(dtype=np.float64)
        finite = np.isfinite(raw)
        hashes = _strings(frame["workload_hash"]) if "workload_hash" in frame else frozenset()
        accels = _strings(frame["accel"]) if "accel" in frame else frozenset()
        group = _Group(
            workload=workload,
            metric=metric,
            platform=platform,
            unit=str(frame["unit"].iloc[0]),
            higher_is_better=bool(frame["higher_is_better"].iloc[0]),
            values=np.sort(raw[finite]),
            bad=int((~finite).sum()),
            hashes=hashes,
            accels=accels,
        )
        yield group, frame.loc[finite]


def _rng(seed: int, *key: str) -> np.random.Generator:
    """A generator per group, keyed by its name: a group's interval does not change when
    another workload is added or the rows come in another order. crc32, not hash(): str hashes
    are salted per process."""
    return np.random.default_rng([seed, zlib.crc32("\0".join(key).encode())])


def _median(sorted_values: FloatArray) -> float:
    n = sorted_values.size
    if n == 0:
        return _NAN
    mid = n // 2
    if n % 2:
        return float(sorted_values[mid])
    # The same arithmetic as _boot_medians, so the CI brackets the median to the last bit.
    return float((sorted_values[mid - 1] + sorted_values[mid]) / 2)


def _boot_medians(
    sorted_values: FloatArray, resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Draws from the bootstrap distribution of the median in O(resamples), not O(resamples*n).

    Resampling n values with replacement from sorted x and taking the k-th smallest is the same
    as x[floor(n * U_(k))], U_(k) the k-th smallest of n uniforms on [0, 1): floor keeps order.
    U_(k) ~ Beta(k, n - k + 1), and given U_(k) the next one is U_(k) + (1 - U_(k)) * V with
    V ~ Beta(1, n - k), the minimum of the n - k uniforms left above it. So this is exactly the
    plain bootstrap (an (resamples, n) index matrix and a median per row), without building
    the matrix: 100,000 samples across 90 groups cost milliseconds instead of seconds.
    """
    n = sorted_values.size
    if n == 0:
        return np.full(resamples, _NAN)
    k = (n + 1) // 2  # 1-based rank of the (lower) middle value
    u = rng.beta(k, n - k + 1, size=resamples)
    lower = np.minimum((u * n).astype(np.intp), n - 1)
    if n % 2:
        return sorted_values[lower]
    u_next = u + (1.0 - u) * rng.beta(1, n - k, size=resamples)
    upper = np.minimum((u_next * n).astype(np.intp), n - 1)
    return (sorted_values[lower] + sorted_values[upper]) / 2


def _interval(draws: FloatArray, confidence: float) -> tuple[float, float]:
    """Percentile interval: enough for a median, whose bootstrap distribution is not skewed
    by a tail the way a mean's is."""
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def _cv(values: FloatArray) -> tuple[float, float, float]:
    """mean, sample std and CV; NaN where they are not defined (n < 2, mean 0)."""
    mean = float(values.mean()) if values.size else _NAN
    std = float(values.std(ddof=1)) if values.size >= 2 else _NAN
    cv = std / abs(mean) if values.size >= 2 and mean != 0 else _NAN
    return mean, std, cv


def _evidence(
    g: _Group,
    ref: _Group,
    boot: FloatArray,
    ref_boot: FloatArray,
    confidence: float,
    names: tuple[str, str],
) -> gate.Evidence:
    """What the gate reads of g against ref: the ratio of medians with its bootstrap
    interval, the U test's p, the CVs, and how many values were not numbers."""
    n, n_ref = int(g.values.size), int(ref.values.size)
    median_ref = _median(ref.values)
    ratio = gate.safe_ratio(_median(g.values), median_ref)
    ratio_low = ratio_high = _NAN
    if n >= 2 and n_ref >= 2 and math.isfinite(ratio):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_low, ratio_high = _interval(boot / ref_boot, confidence)
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
        cv=_cv(g.values)[2],
        cv_ref=_cv(ref.values)[2],
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
    groups = [g for g, _ in _groups(_measured(samples))]
    by_key = {g.key: g for g in groups}
    boots = {g.key: _boot_medians(g.values, resamples, _rng(seed, *g.key)) for g in groups}

    rows = {g.key: _figures(g, boots[g.key], confidence) for g in groups}
    compared: dict[str, list[tuple[_Group, gate.Evidence]]] = {}
    for g in groups:
        base = by_key.get((g.workload, g.metric, baseline))
        row = rows[g.key]
        if g.platform == baseline:
            row.update(_BASELINE_ROW)
        elif base is None:
            row.update(_NO_BASELINE_ROW, reason=f"no {baseline} samples to compare with")
        else:
            ev = _evidence(
                g, base, boots[g.key], boots[base.key], confidence, (g.platform, baseline)
            )
            row.update(
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
            rows[g.key].update(verdict=decision.call, reason=decision.reason)

    frame = pd.DataFrame(list(rows.values()), columns=list(SUMMARY_COLUMNS))
    return _ordered(frame, baseline)


_BASELINE_ROW: Final = {
    "ratio": 1.0,
    "ratio_low": 1.0,
    "ratio_high": 1.0,
    "overhead_pct": 0.0,
    "p_value": _NAN,
    "verdict": "baseline",
    "reason": "baseline platform",
}
_NO_BASELINE_ROW: Final = {
    "ratio": _NAN,
    "ratio_low": _NAN,
    "ratio_high": _NAN,
    "overhead_pct": _NAN,
    "p_value": _NAN,
    "verdict": "inconclusive",
}


def _figures(g: _Group, boot: FloatArray, confidence: float) -> dict[str, object]:
    n = int(g.values.size)
    mean, std, cv = _cv(g.values)
    ci_low, ci_high = _interval(boot, confidence) if n >= 2 else (_NAN, _NAN)
    return {
        "workload": g.workload,
        "metric": g.metric,
        "platform": g.platform,
        "unit": g.unit,
        "higher_is_better": g.higher_is_better,
        "n": n,
        "median": _median(g.values),
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
    needed = (*_NEEDED, "workload_hash")
    groups_a = [g for g, _ in _groups(_measured(a, needed))]
    groups_b = {g.key: g for g, _ in _groups(_measured(b, needed))}
    hashes_a = _hashes_by_workload(groups_a)
    hashes_b = _hashes_by_workload(list(groups_b.values()))

    rows: list[dict[str, object]] = []
    for ga in groups_a:
        gb = groups_b.get(ga.key)
        if gb is None:
            continue
        boot_a = _boot_medians(ga.values, resamples, _rng(seed, "a", *ga.key))
        boot_b = _boot_medians(gb.values, resamples, _rng(seed, "b", *gb.key))
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
                "median_a": _median(ga.values),
                "median_b": _median(gb.values),
                "ratio": ev.ratio,
                "ratio_low": ev.ratio_low,
                "ratio_high": ev.ratio_high,
                "change_pct": ev.worse_pct,
                "p_value": ev.p_value,
                "mark": mark,
                "reason": reason,
                "armed": decision.armed and not problems,
            }
        )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _unlike(
    ga: _Group, gb: _Group, hashes_a: frozenset[str], hashes_b: frozenset[str]
) -> list[str]:
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


def _hashes_by_workload(groups: Sequence[_Group]) -> dict[str, frozenset[str]]:
    """Per workload, not per group: a changed definition invalidates all of its metrics."""
    out: dict[str, frozenset[str]] = {}
    for g in groups:
        out[g.workload] = out.get(g.workload, frozenset()) | g.hashes
    return out


# --- warnings ----------------------------------------------------------------------------


def stability_warnings(
    samples: pd.DataFrame,
    *,
    cv_limit: float = 0.05,
    min_repeats: int = 5,
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
    for g, frame in _groups(_measured(samples, (*_NEEDED, "round"))):
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
        cv = _cv(g.values)[2]
        if cv > cv_limit:
            warnings.append(
                StatWarning(
                    "high-cv",
                    g.subject,
                    f"CV {gate.pct(cv)} > {gate.pct(cv_limit)}: the repeats disagree",
                    "close other programs, pin CPUs, raise repeats or duration",
                )
            )
        warnings.extend(_outliers(g, frame, mad_k, min_deviation))
        warnings.extend(_slow_first(g, frame))
    return warnings


def _outliers(
    g: _Group, frame: pd.DataFrame, mad_k: float, min_deviation: float
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


def _slow_first(g: _Group, frame: pd.DataFrame) -> list[StatWarning]:
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
    _, _, rest_cv = _cv(rest)
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
