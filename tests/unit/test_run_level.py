"""The run-level statistics, on hand-made histories: the screen's statuses, the confirmation's
rules (direction, minimum effect, the fresh runs' median, the family), and edge cases."""

from __future__ import annotations

import math

import numpy as np

from bench.analysis import gate
from bench.analysis.run_level import RunStatus, Suspect, confirm, screen

HISTORY = np.log(1000.0 * (1 + 0.01 * np.array([-1.0, 0.5, 1.0, -0.5, 0.0, 0.8, -0.8, 0.2])))


def _screen(tonight: float, history: np.ndarray = HISTORY, hib: bool = True) -> tuple[str, float]:
    result = screen(
        history[None, :], np.array([math.log(tonight)]), np.array([hib]), np.array([0.03])
    )
    return str(result.status[0]), float(result.change[0])


def test_the_screen_flags_only_what_lies_outside_the_history_and_matters() -> None:
    assert _screen(1002.0) == ("in range", _screen(1002.0)[1])
    status, change = _screen(850.0)  # throughput down 15%: worse
    assert status == "suspect" and math.isclose(change, 0.15, abs_tol=0.002)
    status, change = _screen(850.0, hib=False)  # a latency down 15%: better
    assert status == "suspect" and change < 0
    # Outside a very tight history, but under the minimum effect: not a suspect.
    tight = np.log(1000.0 * (1 + 0.001 * np.arange(-4, 4)))
    assert _screen(1015.0, tight)[0] == "in range"


def test_a_short_history_is_learning_and_bad_numbers_are_named() -> None:
    assert _screen(500.0, HISTORY[:5])[0] == "learning"
    result = screen(HISTORY[None, :], np.array([math.nan]), np.array([True]), np.array([0.03]))
    assert result.status == (RunStatus.BAD_NUMBERS,)


def test_a_history_without_spread_flags_any_change_beyond_the_minimum_effect() -> None:
    flat = np.full(8, math.log(1000.0))
    assert _screen(1000.0, flat)[0] == "in range"
    assert _screen(900.0, flat)[0] == "suspect"


def _suspect(change: float = 0.15) -> Suspect:
    centre = float(HISTORY.mean())
    spread = float(HISTORY.std(ddof=1))
    return Suspect(len(HISTORY), centre, spread, change, True, 0.03)


def test_fresh_runs_confirm_only_the_same_way_beyond_the_minimum_effect() -> None:
    worse = [math.log(850.0 * f) for f in (0.99, 1.0, 1.01, 1.0, 0.995)]
    [c] = confirm([_suspect()], [worse], family=10)
    assert c.status is RunStatus.CONFIRMED and c.p_adjusted == min(1.0, c.p * 10)
    better = [math.log(1150.0)] * 5
    [c] = confirm([_suspect()], [better], family=10)
    assert c.status is RunStatus.NOT_CONFIRMED and "not the screened way" in c.reason
    small = [math.log(985.0)] * 5
    [c] = confirm([_suspect()], [small], family=10)
    assert c.status is RunStatus.NOT_CONFIRMED
    [c] = confirm([_suspect()], [[]], family=10)
    assert c.status is RunStatus.NOT_CONFIRMED and c.reason == "no fresh run measured it"


def test_one_wild_fresh_run_cannot_confirm_alone() -> None:
    """Four quiet fresh runs and one hit by interference: the mean moves, the median does not."""
    runs = [math.log(v) for v in (1001.0, 999.0, 1002.0, 998.0, 400.0)]
    [c] = confirm([_suspect()], [runs], family=1)
    assert c.change > 0.1 and c.status is RunStatus.NOT_CONFIRMED


def test_a_larger_family_asks_for_more() -> None:
    runs = [math.log(960.0)] * 2
    [alone] = confirm([_suspect(0.05)], [runs], family=1)
    [among] = confirm([_suspect(0.05)], [runs], family=150, policy=gate.DEFAULT)
    assert alone.status is RunStatus.CONFIRMED and among.status is RunStatus.NOT_CONFIRMED
