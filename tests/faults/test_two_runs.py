"""Two runs started at once: the second refuses the host lock in one line, creates nothing and
starts nothing; the first measures alone and completes."""

from __future__ import annotations

import pytest

from tests.faults.conftest import Runs, one_line_error
from tests.support.runs import only_run, wait_for_trials


def test_a_second_run_refuses_while_the_first_holds_the_host(
    runs: Runs, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = runs.start("--workload", "fault-slow", "--repeats", "2", "--platforms", "native")
    wait_for_trials(runs.root, first, 1)  # it holds the lock and is measuring
    other = Runs(tmp_path_factory.mktemp("second"), tmp_path_factory.mktemp("second-reports"))
    second = other.run("--workload", "fault-ok", "--platforms", "native,docker")
    assert second.returncode == 2, second.stderr
    line = one_line_error(second.stderr)
    assert "another vcbench run holds the host" in line and f"pid {first.pid}" in line
    assert not other.root.exists() or not any(other.root.iterdir())  # nothing created
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    run = runs.only()
    assert {t.status for t in run.trials} == {"ok"} and len(run.trials) == 2
    assert only_run(runs.root) == run.directory
