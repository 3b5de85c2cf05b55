"""The saving benchmark's verdict check: opposite calls are conflicts; a figure decided by one
schedule only is listed on its side; the same verdicts agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import saving
from bench.data.results import Event, RunWriter
from tests.unit.test_compare import make_run


def test_verdicts_are_set_side_by_side() -> None:
    fixed = {"a": "better", "b": "inconclusive", "c": "worse", "d": "no difference"}
    adaptive = {"a": "better", "b": "worse", "c": "better", "d": "inconclusive"}
    out = saving.compare(fixed, adaptive)
    assert out["figures"] == 4 and out["agree"] == 1
    assert out["conflicts"] == [list("c")]
    assert out["decided_by_adaptive_only"] == [["b", "worse"]]
    assert out["decided_by_fixed_only"] == [["d", "no difference"]]


def test_it_wants_either_a_budget_or_two_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        saving.main([])
    assert stopped.value.code == 2
    assert "--runs FIXED ADAPTIVE" in capsys.readouterr().err


def test_a_runs_wall_time_is_its_own_record_and_an_unfinished_run_is_refused(
    tmp_path: Path,
) -> None:
    run = make_run(tmp_path, "20260101-000000-aaaaaa", {
        ("cpu-sysbench", "events_per_s", "native"): [1000.0] * 5,
        ("cpu-sysbench", "events_per_s", "docker"): [990.0] * 5,
    })  # fmt: skip
    with pytest.raises(SystemExit, match="not a finished run"):
        saving.recorded_wall(run)
    writer = RunWriter(run)
    writer.event(Event("finished", "done", at=1_790_000_000.0 + 123.5))
    assert saving.recorded_wall(run) == pytest.approx(123.5)
