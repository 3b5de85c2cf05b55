"""A workload that hangs is killed at its timeout on every platform, and its instance is
replaced: the next trial runs on a fresh one."""

from __future__ import annotations

from tests.faults.conftest import Runs, failed_then_replaced


def test_a_hung_workload_is_killed_at_its_timeout_and_its_instance_replaced(runs: Runs) -> None:
    hung = failed_then_replaced(runs, "fault-hang", "timeout", "did not finish within 3 s")
    for trial in hung.values():
        assert trial.ended - trial.started < 60  # killed, not waited out
