"""Change points in a history series (bench.analysis.steps): known answers and pure noise."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis.steps import change_points
from tests.unit.test_stats import normal


def test_step_found() -> None:
    series = np.r_[normal(1000, 10, 10, 1), normal(800, 10, 10, 2)]
    (at,) = change_points(series)
    assert abs(at - 10) <= 1


def test_two_steps_found() -> None:
    series = np.r_[normal(100, 1, 15, 1), normal(120, 1, 15, 2), normal(100, 1, 15, 3)]
    points = change_points(series)
    assert len(points) == 2
    assert abs(points[0] - 15) <= 1 and abs(points[1] - 30) <= 1


@pytest.mark.parametrize("seed", range(20))
def test_noise_alone_finds_nothing(seed: int) -> None:
    assert change_points(normal(1000, 30, 20, seed)) == []


def test_small_step_below_min_effect_dropped() -> None:
    series = np.r_[normal(1000, 1, 10, 1), normal(990, 1, 10, 2)]
    assert change_points(series) == []
    assert change_points(series, min_effect=0.005) != []


def test_change_points_edge_cases() -> None:
    assert change_points([]) == []
    assert change_points([1.0, 2.0, 3.0]) == []
    assert change_points([5.0] * 20) == []
    assert change_points([5.0] * 10 + [6.0] * 10) == [10]
    # One odd run is not a step.
    assert change_points([5.0] * 10 + [9.0] + [5.0] * 9) == []
    with pytest.raises(ValueError, match="finite"):
        change_points([1.0, float("nan"), 2.0, 3.0])
