"""bench.analysis.stats on synthetic data whose answers are known."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.analysis import groups, stability, stats
from bench.analysis.stability import StatWarning

W, M = "cpu-sysbench", "events_per_s"


def rows(
    values: Iterable[float],
    *,
    platform: str = "native",
    workload: str = W,
    metric: str = M,
    higher_is_better: bool = True,
    warmup: bool = False,
    workload_hash: str = "h1",
    accel: str | None = None,
    first_round: int = 0,
) -> pd.DataFrame:
    """Samples in the shape the runner writes: one row per measured value."""
    values = [float(v) for v in values]
    n = len(values)
    rounds = list(range(first_round, first_round + n))
    return pd.DataFrame(
        {
            "trial_id": [f"r{r}-{workload}-{platform}" for r in rounds],
            "workload": workload,
            "workload_hash": workload_hash,
            "platform": platform,
            "round": rounds,
            "warmup": warmup,
            "metric": metric,
            "value": values,
            "unit": "1/s" if higher_is_better else "ms",
            "higher_is_better": higher_is_better,
            "accel": accel or ("kvm" if platform == "libvirt" else "host"),
            "started": [1.7e9 + r for r in rounds],
            "ended": [1.7e9 + r + 0.5 for r in rounds],
            "instance": f"{platform}-0",
        }
    )


def normal(mean: float, sd: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


def cat(*frames: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


def row(summary: pd.DataFrame, platform: str, metric: str = M) -> pd.Series:
    hit = summary[(summary["platform"] == platform) & (summary["metric"] == metric)]
    assert len(hit) == 1, summary
    return hit.iloc[0]


def codes(warnings: Sequence[StatWarning], subject: str | None = None) -> set[str]:
    return {w.code for w in warnings if subject is None or w.subject == subject}


# --- summarize ---------------------------------------------------------------------------


def test_output_columns_and_baseline_first() -> None:
    df = cat(
        rows(normal(1000, 10, 10, 1), platform="libvirt"),
        rows(normal(1000, 10, 10, 2), platform="docker"),
        rows(normal(1000, 10, 10, 3), platform="native"),
    )
    summary = stats.summarize(df)
    assert tuple(summary.columns) == stats.SUMMARY_COLUMNS
    assert list(summary["platform"]) == ["native", "docker", "libvirt"]  # the one order
    base = row(summary, "native")
    assert base["verdict"] == "baseline"
    assert base["ratio"] == 1.0 and base["overhead_pct"] == 0.0
    assert set(summary["verdict"]) <= set(stats.VERDICTS)


def test_identical_distributions_no_difference() -> None:
    df = cat(
        rows(normal(1000, 10, 10, 1)),
        rows(normal(1000, 10, 10, 2), platform="docker"),
    )
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "no difference", docker["reason"]
    assert docker["p_value"] >= 0.01
    assert docker["ratio_low"] <= 1.0 <= docker["ratio_high"]


def test_throughput_20pct_lower_is_worse() -> None:
    df = cat(
        rows(normal(1000, 10, 20, 1)),
        rows(normal(800, 10, 20, 2), platform="docker"),
    )
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "worse", docker["reason"]
    assert docker["overhead_pct"] == pytest.approx(20, abs=1.5)
    assert docker["ratio_low"] <= 0.8 <= docker["ratio_high"]
    assert docker["ratio_low"] <= docker["ratio"] <= docker["ratio_high"]
    assert docker["p_value"] < 0.01


@pytest.mark.parametrize(("latency", "verdict", "sign"), [(12.0, "worse", 1), (8.0, "better", -1)])
def test_latency_direction(latency: float, verdict: str, sign: int) -> None:
    df = cat(
        rows(normal(10.0, 0.1, 20, 1), metric="latency", higher_is_better=False),
        rows(
            normal(latency, 0.1, 20, 2),
            platform="libvirt",
            metric="latency",
            higher_is_better=False,
        ),
    )
    vm = row(stats.summarize(df), "libvirt", "latency")
    assert vm["verdict"] == verdict, vm["reason"]
    assert vm["overhead_pct"] == pytest.approx(sign * 20, abs=1.5)
    assert vm["ratio_low"] <= latency / 10 <= vm["ratio_high"]


def test_throughput_higher_is_better() -> None:
    df = cat(rows(normal(1000, 10, 20, 1)), rows(normal(1200, 10, 20, 2), platform="docker"))
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "better"
    assert docker["overhead_pct"] == pytest.approx(-20, abs=1.5)


def test_two_repeats_inconclusive_naming_n() -> None:
    df = cat(rows([1000.0, 1001.0]), rows([800.0, 801.0], platform="docker"))
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "inconclusive"
    assert docker["reason"] == "too few repeats: docker n=2 and native n=2 < 5"


def test_three_repeats_cannot_reach_alpha() -> None:
    df = cat(rows([1000.0, 1001, 1002]), rows([800.0, 801, 802], platform="docker"))
    docker = row(stats.summarize(df, min_repeats=3), "docker")
    # Complete separation, yet the exact MWU's smallest p for 3 and 3 is 0.1.
    assert docker["verdict"] == "inconclusive"
    assert (
        docker["reason"] == "the U test cannot reach p<0.01 with n=3 and 3: raise the repeats to 5"
    )


def test_single_value_has_no_interval() -> None:
    df = cat(rows([1000.0]), rows([900.0], platform="docker"))
    summary = stats.summarize(df)
    assert summary["ci_low"].isna().all() and summary["std"].isna().all()
    assert math.isnan(row(summary, "docker")["ratio_low"])
    assert row(summary, "docker")["verdict"] == "inconclusive"


def test_high_cv_inconclusive() -> None:
    df = cat(rows(normal(1000, 150, 10, 1)), rows(normal(1000, 150, 10, 2), platform="docker"))
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "inconclusive"
    assert "CV" in docker["reason"] and "> 5%" in docker["reason"]


def test_wide_interval_is_not_no_difference() -> None:
    # CV 4% passes the CV gate, but 5 repeats cannot rule out a 3% difference.
    df = cat(rows(normal(1000, 30, 5, 1)), rows(normal(1000, 30, 5, 2), platform="docker"))
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "inconclusive"
    assert "ratio interval" in docker["reason"]


def test_aa_false_positive_rate() -> None:
    """500 A/A comparisons (one workload per seed, two samples of 10 from one distribution):
    a difference is called in about 1% of them at most, even with min_effect switched off."""
    frames = []
    for seed in range(500):
        both = normal(1000, 100, 20, seed)
        frames.append(rows(both[:10], workload=f"w{seed}"))
        frames.append(rows(both[10:], workload=f"w{seed}", platform="docker"))
    summary = stats.summarize(cat(*frames), min_effect=0.0, resamples=200)
    docker = summary[summary["platform"] == "docker"]
    assert len(docker) == 500
    called = docker["verdict"].isin(["better", "worse"]).sum()
    assert called <= 10, called  # <= 2%
    # The p-values of an A/A test are uniform: about a tenth of them below 0.1.
    assert 0.05 <= (docker["p_value"] < 0.1).mean() <= 0.15


def test_shift_below_min_effect_is_no_difference() -> None:
    df = cat(rows(normal(1000, 1, 20, 1)), rows(normal(990, 1, 20, 2), platform="docker"))
    docker = row(stats.summarize(df), "docker")
    assert docker["p_value"] < 1e-6
    assert docker["verdict"] == "no difference"
    assert "minimum effect" in docker["reason"]
    # The same shift matters once the metric's own threshold is below it.
    tight = stats.summarize(df, min_effects={(W, M): 0.005})
    assert row(tight, "docker")["verdict"] == "worse"
    other = stats.summarize(df, min_effects={("other", M): 0.005})
    assert row(other, "docker")["verdict"] == "no difference"


def test_warmups_never_counted() -> None:
    measured = cat(rows(normal(1000, 10, 10, 1)), rows(normal(800, 10, 10, 2), platform="docker"))
    warm = cat(
        rows([1e6, 1e6], warmup=True, first_round=0),
        rows([1.0, 1.0], platform="docker", warmup=True, first_round=0),
    )
    with_warm = stats.summarize(cat(warm, measured))
    without = stats.summarize(measured)
    pd.testing.assert_frame_equal(with_warm, without)
    assert list(with_warm["n"]) == [10, 10]
    assert stability.stability_warnings(cat(warm, measured)) == []


def test_missing_baseline_inconclusive() -> None:
    df = rows(normal(1000, 10, 10, 1), platform="docker")
    docker = row(stats.summarize(df), "docker")
    assert docker["verdict"] == "inconclusive"
    assert docker["reason"] == "no native samples to compare with"


def test_other_baseline() -> None:
    df = cat(rows(normal(1000, 10, 10, 1)), rows(normal(800, 10, 10, 2), platform="docker"))
    summary = stats.summarize(df, baseline="docker")
    assert list(summary["platform"]) == ["docker", "native"]
    assert row(summary, "native")["verdict"] == "better"


def test_deterministic_and_independent_of_other_groups() -> None:
    df = cat(rows(normal(1000, 10, 50, 1)), rows(normal(800, 10, 50, 2), platform="docker"))
    more = cat(df, rows(normal(5, 1, 10, 3), workload="other"))
    a, b = stats.summarize(df, seed=7), stats.summarize(more, seed=7)
    pd.testing.assert_frame_equal(a, b.iloc[:2])
    c = stats.summarize(df, seed=8)
    assert a.iloc[1]["ratio_low"] != c.iloc[1]["ratio_low"]


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="higher_is_better"):
        stats.summarize(rows([1.0, 2.0]).drop(columns="higher_is_better"))


def test_empty_and_nonfinite() -> None:
    empty = stats.summarize(rows([]))
    assert empty.empty and tuple(empty.columns) == stats.SUMMARY_COLUMNS
    summary = stats.summarize(rows([1.0, float("nan"), 3.0, float("inf")]))
    assert summary.iloc[0]["n"] == 2


@pytest.mark.parametrize("n", [1, 2, 5, 6])
def test_bootstrap_median_is_the_plain_bootstrap(n: int) -> None:
    """The order-statistic shortcut draws from the same distribution as resampling an
    (resamples, n) index matrix and taking each row's median."""
    x = np.sort(np.random.default_rng(0).normal(0, 1, n))
    draws = 100_000
    fast = groups.boot_medians(x, draws, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    plain = np.median(x[rng.integers(0, n, size=(draws, n))], axis=1)
    support = np.union1d(fast, plain)
    p_fast = np.array([(fast == v).mean() for v in support])
    p_plain = np.array([(plain == v).mean() for v in support])
    assert np.abs(p_fast - p_plain).max() < 0.01


# --- properties --------------------------------------------------------------------------

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
quick = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(st.lists(positive, min_size=2, max_size=30))
def test_ci_contains_median(values: list[float]) -> None:
    summary = stats.summarize(rows(values), resamples=500)
    r = summary.iloc[0]
    assert r["ci_low"] <= r["median"] <= r["ci_high"]


@quick
@given(st.lists(positive, min_size=1, max_size=30))
def test_ratio_to_itself_is_one(values: list[float]) -> None:
    df = cat(rows(values), rows(values, platform="docker"))
    docker = row(stats.summarize(df, resamples=500), "docker")
    assert docker["ratio"] == 1.0
    assert docker["overhead_pct"] == 0.0
    assert docker["verdict"] not in ("better", "worse")
    if len(values) >= 2:
        assert docker["ratio_low"] <= 1.0 <= docker["ratio_high"]


@st.composite
def sample_frames(draw: st.DrawFn) -> pd.DataFrame:
    frames = []
    for platform in draw(
        st.lists(st.sampled_from(["native", "docker", "libvirt", "x"]), min_size=1, max_size=4)
    ):
        for metric, hib in draw(
            st.lists(st.sampled_from([("a", True), ("b", False)]), min_size=1, max_size=2)
        ):
            values = draw(st.lists(positive, min_size=1, max_size=12))
            warm = draw(st.lists(positive, max_size=2))
            frames.append(rows(values, platform=platform, metric=metric, higher_is_better=hib))
            frames.append(rows(warm, platform=platform, metric=metric, warmup=True))
    return cat(*frames)


@quick
@given(sample_frames())
def test_never_raises_on_finite_positive_data(df: pd.DataFrame) -> None:
    summary = stats.summarize(df, resamples=200)
    assert set(summary["verdict"]) <= set(stats.VERDICTS)
    assert (summary["reason"].str.len() > 0).all()
    assert all(w.code in stability.WARNING_CODES for w in stability.stability_warnings(df))
    marks = stats.compare(df, df, resamples=200)["mark"]
    assert set(marks) <= {"not significant", "not comparable"}


# --- warnings ----------------------------------------------------------------------------


def test_stable_samples_warn_nothing() -> None:
    assert stability.stability_warnings(rows(normal(1000, 10, 10, 1))) == []


def test_high_cv_warning() -> None:
    warnings = stability.stability_warnings(rows(normal(1000, 150, 10, 1)))
    (cv,) = [w for w in warnings if w.code == "high-cv"]
    assert cv.subject == f"{W}/{M}/native"
    assert "> 5%" in cv.message and "repeats" in cv.advice


def test_outlier_warning_names_the_round() -> None:
    values = list(normal(1000, 5, 10, 1))
    values[6] = 2000.0
    warnings = stability.stability_warnings(rows(values))
    (out,) = [w for w in warnings if w.code == "outliers"]
    assert "1 of 10" in out.message and "round 6" in out.message


def test_outliers_when_mad_is_zero() -> None:
    warnings = stability.stability_warnings(rows([100.0] * 8 + [101.0, 500.0]))
    (out,) = [w for w in warnings if w.code == "outliers"]
    assert "round 9" in out.message and "round 8" not in out.message


@pytest.mark.parametrize(
    ("first", "higher_is_better", "warned"),
    [(700.0, True, True), (1300.0, True, False), (1300.0, False, True), (700.0, False, False)],
)
def test_slow_first_is_direction_aware(first: float, higher_is_better: bool, warned: bool) -> None:
    values = [first, *normal(1000, 5, 9, 1)]
    warnings = stability.stability_warnings(rows(values, higher_is_better=higher_is_better))
    assert ("slow-first" in codes(warnings)) is warned
    if warned:
        (slow,) = [w for w in warnings if w.code == "slow-first"]
        assert re.search(r"(29\.\d|30(\.\d)?)% worse", slow.message), slow.message
        assert "warmup" in slow.advice


def test_few_repeats_warning() -> None:
    warnings = stability.stability_warnings(
        cat(rows([1000.0, 1001.0, 999.0]), rows(normal(1000, 5, 10, 1), platform="docker"))
    )
    assert codes(warnings, f"{W}/{M}/native") == {"few-repeats"}
    assert codes(warnings, f"{W}/{M}/docker") == set()


def test_run_warnings() -> None:
    assert stability.run_warnings(failed_trials=0, total_trials=10, busy=[], accel="kvm") == []
    warnings = stability.run_warnings(
        failed_trials=2, total_trials=10, busy=["load 3.1 on 2 CPUs", "swap in use"], accel="tcg"
    )
    assert [w.code for w in warnings] == ["failed-trials", "busy-host", "emulated"]
    assert all(w.subject == "run" for w in warnings)
    failed, busy, tcg = warnings
    assert "2 of 10" in failed.message
    assert "load 3.1 on 2 CPUs" in busy.message and "swap in use" in busy.message
    assert tcg.message == (
        "VM figures measure software emulation (TCG), not hardware virtualisation"
    )
    assert tcg.advice == "run on a host where KVM works for VM figures"


# --- compare -----------------------------------------------------------------------------


def run(seed: int, docker_mean: float = 800.0, workload_hash: str = "h1") -> pd.DataFrame:
    return cat(
        rows(normal(1000, 10, 10, seed), workload_hash=workload_hash),
        rows(normal(docker_mean, 10, 10, seed + 1), platform="docker", workload_hash=workload_hash),
        rows(normal(50, 1, 10, seed + 2), workload="mem", workload_hash="m1"),
    )


def test_compare_identical_runs_not_significant() -> None:
    a = run(1)
    result = stats.compare(a, a.copy())
    assert tuple(result.columns) == stats.COMPARE_COLUMNS
    assert len(result) == 3
    assert (result["mark"] == "not significant").all(), result["reason"]
    assert (result["ratio"] == 1.0).all()


def test_compare_same_distribution_not_significant() -> None:
    result = stats.compare(run(1), run(10))
    assert (result["mark"] == "not significant").all(), result["reason"]


def test_compare_regression() -> None:
    result = stats.compare(run(1), run(10, docker_mean=640.0))
    docker = result[result["platform"] == "docker"].iloc[0]
    assert docker["mark"] == "worse"
    assert docker["change_pct"] == pytest.approx(20, abs=2)
    assert docker["ratio_low"] <= 0.8 <= docker["ratio_high"]
    improved = stats.compare(run(10, docker_mean=640.0), run(1))
    assert improved[improved["platform"] == "docker"].iloc[0]["mark"] == "better"


def test_compare_changed_workload_not_comparable() -> None:
    result = stats.compare(run(1), run(1, workload_hash="h2"))
    changed = result[result["workload"] == W]
    assert (changed["mark"] == "not comparable").all()
    assert changed["reason"].str.contains("h1 -> h2").all()
    assert (result[result["workload"] == "mem"]["mark"] == "not significant").all()


def test_compare_accel_change_not_comparable_and_small_n_not_significant() -> None:
    a = rows(normal(1000, 10, 10, 1), platform="libvirt", accel="kvm")
    b = rows(normal(1000, 10, 10, 1), platform="libvirt", accel="tcg")
    (mark,) = stats.compare(a, b)["mark"]
    assert mark == "not comparable"
    # Even a doubling is not called with 3 and 3: too few to show a change, yet like things.
    small = stats.compare(rows([1.0, 2.0, 3.0]), rows([4.0, 5.0, 6.0]))
    assert small.iloc[0]["mark"] == "not significant"
    assert small.iloc[0]["reason"] == "too few repeats: run b n=3 and run a n=3 < 5"
    assert not small.iloc[0]["armed"]


def test_compare_only_common_groups() -> None:
    a = run(1)
    b = a[a["platform"] == "native"]
    assert set(stats.compare(a, b)["platform"]) == {"native"}


def test_zero_against_zero_is_inconclusive_not_no_change() -> None:
    zeros = rows([0.0] * 6)
    (row,) = stats.compare(zeros, zeros).itertuples()
    assert math.isnan(row.ratio) and row.mark == "not significant" and not row.armed
    assert row.reason == "run a median is 0: no ratio to judge"
