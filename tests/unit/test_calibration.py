"""The gate is calibrated: under A/A no verdict path calls a difference (or supports a claim)
more than 1% of the time, and a true 10% effect at n=8 is found at least 80% of the time.
Seeded, so the figures are the same on every run; the report shows the stored copy, which
must be this code's."""

from __future__ import annotations

import pytest

from bench.analysis import calibration, gate
from bench.analysis.calibration import FALSE_LIMIT, POWER_LIMIT, PROMISED, Rate
from tests.support.calibration_checks import assert_false_calls_within

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rates() -> list[Rate]:
    return calibration.calibrate()


def test_every_path_and_claim_is_calibrated_at_every_n(rates: list[Rate]) -> None:
    false = [r for r in rates if r.kind == "false"]
    assert {r.n for r in false} == {2, 3, 5, 8}
    assert {r.path for r in false} == {"summary", "compare", *calibration.CLAIM_SCENARIOS}
    assert_false_calls_within(((r.path, r.hits, r.sims, r) for r in false), FALSE_LIMIT)
    for r in false:
        if r.n < gate.MIN_REPEATS:
            assert r.hits == 0, r  # below the minimum repeats the gate never decides


def test_a_true_ten_percent_effect_is_found_at_n8(rates: list[Rate]) -> None:
    power = [r for r in rates if r.kind == "power" and r.distribution in PROMISED]
    assert {r.n for r in power} == {calibration.POWER_N}
    assert {r.path for r in power} == {"summary", "compare", *calibration.CLAIM_SCENARIOS}
    for r in power:
        assert r.rate >= POWER_LIMIT, r


def test_the_report_shows_this_codes_figures(rates: list[Rate]) -> None:
    assert calibration.stored() == rates, "run: python -m bench.analysis.calibration --write"


def test_the_calibration_fails_a_gate_that_decides_without_the_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old claim fallback, "worse" or "better" whenever the ratio's interval lies on one
    side of 1, run through the same calibration: it is caught at once."""

    def by_interval(ev: gate.Evidence, *args: object, **kwargs: object) -> gate.Decision:
        if ev.ratio_low > 1.0 or ev.ratio_high < 1.0:
            return gate.Decision("worse", "interval", ev.p_value, gate.Reason.CHANGED)
        return gate.Decision("inconclusive", "interval", ev.p_value, gate.Reason.NOT_SIGNIFICANT)

    monkeypatch.setattr(gate, "decide", by_interval)
    hits = calibration.summary_calls(calibration.DISTRIBUTIONS["normal 3%"], 3, 200, 1.0, 1)
    assert hits / 200 > FALSE_LIMIT
