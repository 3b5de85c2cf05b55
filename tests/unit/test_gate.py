"""The gate's rules, one by one, on hand-made evidence; and bad numbers through summarize."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis import gate, stats


def evidence(**kw: float | int | bool) -> gate.Evidence:
    base: dict[str, object] = {
        "subject": "docker",
        "reference": "native",
        "higher_is_better": True,
        "n": 8,
        "n_ref": 8,
        "ratio": 0.9,
        "ratio_low": 0.88,
        "ratio_high": 0.92,
        "p_value": 0.0002,
        "cv": 0.01,
        "cv_ref": 0.01,
        "median_ref": 1000.0,
    }
    base.update(kw)
    return gate.Evidence(**base)  # type: ignore[arg-type]


def test_worse_needs_the_test_and_the_minimum_effect() -> None:
    assert gate.decide(evidence()).call == "worse"
    assert gate.decide(evidence(ratio=1.1, ratio_low=1.08, ratio_high=1.12)).call == "better"
    small = gate.decide(evidence(ratio=0.99, ratio_low=0.985, ratio_high=0.995))
    assert small.call == "no difference" and "minimum effect" in small.reason
    noise = gate.decide(evidence(p_value=0.2, ratio_low=0.7, ratio_high=1.1))
    assert noise.call == "inconclusive" and "reaches past" in noise.reason


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"bad": 2}, "2 docker value(s) not finite"),
        ({"bad_ref": 1}, "1 native value(s) not finite"),
        ({"n": 0}, "no docker values"),
        ({"ratio": math.nan, "median_ref": 0.0}, "native median is 0"),
        ({"ratio": math.nan, "median_ref": math.inf}, "not a finite number"),
        ({"n": 4}, "too few repeats: docker n=4 < 5"),
    ],
)
def test_what_cannot_be_judged_is_inconclusive_with_the_reason(
    kw: dict[str, float], words: str
) -> None:
    decision = gate.decide(evidence(**kw))
    assert decision.call == "inconclusive" and not decision.armed
    assert words in decision.reason


def test_a_family_holds_its_false_calls_to_alpha() -> None:
    # each alone would be called; as three at once, Holm asks p < 0.0033 of the smallest
    ps = [0.006, 0.008, 0.009]
    alone = [gate.decide(evidence(p_value=p)).call for p in ps]
    together = gate.decide_family([evidence(p_value=p) for p in ps])
    assert alone == ["worse"] * 3
    assert [d.call for d in together] == ["inconclusive"] * 3
    assert "Holm-adjusted" in together[0].reason
    # n=5 a side can reach 0.0079 at best: a family of two cannot fire, and says how to arm it
    (five, _) = gate.decide_family([evidence(n=5, n_ref=5)] * 2)
    assert five.call == "inconclusive" and "raise the repeats to 6" in five.reason


def test_holm_matches_the_textbook() -> None:
    assert gate.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(gate.holm([math.nan, 0.01])[0])
    assert gate.repeats_needed(0.01) == 5 and gate.repeats_needed(0.01 / 7) == 7


def test_tied_samples_get_the_exact_p_not_the_normal_approximation() -> None:
    # a latency histogram's buckets: native's 0.711 twice; the VM's eight all above native's
    native = [0.711, 1.239, 0.711, 0.503, 0.815, 0.935, 0.871, 1.215]
    vm = [7.807, 7.263, 9.439, 5.623, 9.159, 12.623, 8.271, 10.031]
    assert gate.mwu(vm, native) == pytest.approx(2 / math.comb(16, 8))
    assert gate.mwu(vm, native, "greater") == pytest.approx(1 / math.comb(16, 8))
    assert gate.mwu(vm, native, "less") == 1.0
    assert gate.mwu([1.0] * 8, [1.0] * 8) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=2, max_size=8),
    st.lists(st.integers(0, 6), min_size=2, max_size=8),
    st.sampled_from(["two-sided", "less", "greater"]),
)
def test_the_exact_tied_p_is_a_permutation_p(
    a: list[int], b: list[int], alternative: gate.Alternative
) -> None:
    """Whatever the ties: a probability, and what scipy's own permutation test of the rank
    sum gives (the reference, slower: not used by the gate)."""
    from scipy import stats as sps

    p = gate.mwu(a, b, alternative)
    assert 0.0 < p <= 1.0
    ranks = sps.rankdata(a + b)
    x, y = ranks[: len(a)], ranks[len(a) :]
    expected = sps.permutation_test(
        (x, y),
        lambda u, v, axis: u.sum(axis=axis),
        permutation_type="independent",
        n_resamples=math.inf,
        alternative={"two-sided": "two-sided", "less": "less", "greater": "greater"}[alternative],
    ).pvalue
    assert p == pytest.approx(expected, rel=1e-6)


def test_holm_pairs_multiplies_by_the_comparisons_still_standing() -> None:
    # three comparisons, two hypotheses each; Holm over six would multiply 0.001 by 6
    worse, no_worse = gate.holm_pairs([0.001, 0.5, 0.2], [0.9, 0.002, 0.004])
    assert worse[0] == pytest.approx(0.003)  # three comparisons stand
    assert no_worse[1] == pytest.approx(0.006)  # still three: the first has its other one
    assert no_worse[2] == pytest.approx(0.012)
    assert worse[2] == pytest.approx(0.6) and worse[1] == no_worse[0] == 1.0  # capped at 1
    assert math.isnan(gate.holm_pairs([math.nan], [0.01])[0][0])


def test_no_worse_is_the_one_sided_test_against_the_reference_made_worse() -> None:
    ref = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1]
    same = [v * 0.999 for v in ref]
    # higher is better: the reference made 3% lower; the same values lie clearly above it
    assert gate.mwu_no_worse(same, ref, True, 0.03) < 0.001
    # lower is better: made 3% higher; a subject 5% worse is not ruled out
    assert gate.mwu_no_worse([v * 1.05 for v in ref], ref, False, 0.03) > 0.5
    assert gate.mwu_no_worse(same, ref, False, 0.03) < 0.001


def test_an_ordering_is_worse_no_worse_or_inconclusive_in_one_family() -> None:
    worse = evidence(p_value=0.0001)
    even = evidence(p_value=0.9, ratio=1.0, ratio_low=0.99, ratio_high=1.01)
    noisy = evidence(p_value=0.5, ratio=0.99, ratio_low=0.8, ratio_high=1.2, cv=0.2)
    calls = gate.decide_orderings([worse, even, noisy], [0.9, 0.0005, 0.2])
    assert [d.call for d in calls] == ["worse", "no worse", "inconclusive"]
    assert calls[1].code == gate.Reason.NO_WORSE and "ruled out" in calls[1].reason
    assert "not ruled out" in calls[2].reason
    # the interval test's "no difference" is no answer: without the one-sided test, inconclusive
    (alone,) = gate.decide_orderings([even], [0.5])
    assert gate.decide(even).call == "no difference" and alone.call == "inconclusive"
    # nothing is answered that the gate cannot arm
    (few,) = gate.decide_orderings([evidence(n=4)], [0.0])
    assert few.call == "inconclusive" and not few.armed


def rows(platform: str, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "workload": "w",
            "metric": "m",
            "platform": platform,
            "warmup": False,
            "value": values,
            "unit": "u",
            "higher_is_better": True,
        }
    )


@pytest.mark.parametrize(
    ("native", "docker", "words"),
    [
        ([1.0] * 8, [1.0] * 7 + [math.nan], "1 docker value(s) not finite"),
        ([1.0] * 8, [1.0] * 7 + [math.inf], "1 docker value(s) not finite"),
        ([0.0] * 8, [0.0] * 8, "native median is 0"),
        ([math.nan] * 8, [1.0] * 8, "8 native value(s) not finite"),
    ],
)
def test_summarize_never_says_no_difference_of_bad_numbers(
    native: list[float], docker: list[float], words: str
) -> None:
    table = stats.summarize(pd.concat([rows("native", native), rows("docker", docker)]))
    (row,) = table.loc[table["platform"] == "docker"].to_dict("records")
    assert row["verdict"] == "inconclusive" and words in str(row["reason"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=9),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=9),
)
def test_any_input_gives_a_verdict_with_a_reason(a: list[float], b: list[float]) -> None:
    """Whatever the values, summarize answers one of its verdicts with a reason, and never
    "no difference" where a value was not a finite number."""
    frame = pd.concat([rows("native", a), rows("docker", b)])
    for row in stats.summarize(frame, resamples=50).to_dict("records"):
        assert row["verdict"] in stats.VERDICTS and row["reason"]
        if row["platform"] == "docker" and not all(map(math.isfinite, a + b)):
            assert row["verdict"] == "inconclusive"


def test_a_cv_that_is_not_a_number_never_passes_as_no_difference() -> None:
    """A NaN CV (a mean of 0, values that are not numbers) used to slip past `cv > limit`."""
    for side in ("cv", "cv_ref"):
        decision = gate.decide(
            evidence(p_value=0.5, ratio=1.0, ratio_low=0.99, ratio_high=1.01, **{side: math.nan})
        )
        assert decision.call == "inconclusive", side
        assert "CV is not a number" in decision.reason


def test_every_decision_carries_a_reason_code_readers_can_branch_on() -> None:
    cases = {
        gate.Reason.CHANGED: evidence(),
        gate.Reason.TOO_FEW_REPEATS: evidence(n=3),
        gate.Reason.TEST_CANNOT_FIRE: evidence(n=5, n_ref=5),
        gate.Reason.BAD_NUMBERS: evidence(ratio=math.nan, median_ref=0.0),
        gate.Reason.EQUIVALENT: evidence(p_value=0.5, ratio=1.0, ratio_low=0.99, ratio_high=1.01),
        gate.Reason.NOT_SIGNIFICANT: evidence(p_value=0.2, ratio_low=0.7, ratio_high=1.1),
        gate.Reason.SMALL_SHIFT: evidence(ratio=0.99, ratio_low=0.9, ratio_high=1.05),
    }
    policy = gate.Policy(alpha=0.01)
    for code, ev in cases.items():
        decision = gate.decide(ev, policy, family=2 if code is gate.Reason.TEST_CANNOT_FIRE else 1)
        assert decision.code is code, (code, decision)
        assert decision.armed is (code not in gate.UNARMED)


def test_the_printed_rule_is_the_policy() -> None:
    strict = gate.Policy(alpha=0.001, min_effect=0.05, min_repeats=7)
    text = gate.rule_text(strict)
    assert "p < 0.001" in text and "(5%)" in text and "n >= 7" in text
    from bench.analysis.claims.evidence import GATE_RULE

    assert gate.rule_text() == GATE_RULE
