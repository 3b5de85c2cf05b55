"""The nightly check is calibrated at the level users feel: a night with no change ends in
exit 3 at most 1% of the time (150 figures, noise between runs of 0.5-3%, today's within-run
noise), and a true step in one figure is caught within two nights. Seeded; the stored copy the
report and the README show must be this code's."""

from __future__ import annotations

import pytest

from bench.analysis import calibration_nightly
from bench.analysis.calibration_nightly import FALSE_LIMIT, POWER_LIMIT, NightRate
from tests.support.calibration_checks import assert_false_calls_within

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rates() -> list[NightRate]:
    return calibration_nightly.calibrate()


def test_a_night_with_no_change_ends_in_exit_3_at_most_1_percent(rates: list[NightRate]) -> None:
    false = [r for r in rates if r.kind == "false"]
    assert {(r.mode, r.history) for r in false} == {
        (mode, length) for mode in calibration_nightly.MODES for length in (6, 20)
    }
    # Each (mode, history) cell is its own path: its own rate must hold, not only a pooled one.
    cells = ((f"{r.mode}/{r.history}", r.hits, r.nights, r) for r in false)
    assert_false_calls_within(cells, FALSE_LIMIT)


def test_a_true_step_is_caught_within_two_nights(rates: list[NightRate]) -> None:
    power = [r for r in rates if r.kind == "power"]
    ten = [r for r in power if r.step == 0.10]
    five = [r for r in power if r.step == 0.05]
    assert max(r.run_effect for r in ten) == 0.03  # the whole range of noise between runs
    assert max(r.run_effect for r in five) == 0.01
    for r in ten + five:
        assert r.rate >= POWER_LIMIT, r


def test_the_old_per_figure_check_cries_wolf_on_the_same_nights(rates: list[NightRate]) -> None:
    """Why the run is the unit: judged on within-run repeats, most quiet nights end red."""
    [old] = [r for r in rates if r.kind == "per_figure_gate"]
    assert old.rate > 0.25


def test_the_report_shows_this_codes_figures(rates: list[NightRate]) -> None:
    stored = calibration_nightly.stored()
    assert calibration_nightly.same(stored, rates), (
        "run: python -m bench.analysis.calibration_nightly --write"
    )
