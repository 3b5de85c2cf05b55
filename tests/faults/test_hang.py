"""A workload that hangs is killed at its timeout on every platform, and its instance is
replaced: the next trial runs on a fresh one."""

from __future__ import annotations

from tests.faults.conftest import Runs, by_workload


def test_a_hung_workload_is_killed_at_its_timeout_and_its_instance_replaced(runs: Runs) -> None:
    done = runs.run("--workload", "fault-hang", "--workload", "fault-ok")
    assert done.returncode == 1, done.stderr[-2000:]
    run = runs.only()
    assert not run.warnings
    hung, ok = by_workload(run, "fault-hang"), by_workload(run, "fault-ok")
    for platform in ("native", "docker", "libvirt"):
        trial = hung[platform]
        assert (trial.status, trial.cause) == ("failed", "timeout"), trial
        assert "did not finish within 3 s" in trial.error
        assert trial.ended - trial.started < 60  # killed, not waited out
        assert ok[platform].status == "ok", ok[platform]
        assert ok[platform].instance != trial.instance  # a fresh instance after the hang
