"""A workload that outgrows its memory limit is recorded as killed by the OOM killer on every
platform (the memory cgroup's counter natively and in the container, the guest kernel's own
count in the VM), not as a bare exit 137; its instance is replaced."""

from __future__ import annotations

from tests.faults.conftest import Runs, by_workload


def test_a_workload_over_its_memory_limit_is_an_oom_kill_everywhere(runs: Runs) -> None:
    done = runs.run("--workload", "fault-oom", "--workload", "fault-ok")
    assert done.returncode == 1, done.stderr[-2000:]
    run = runs.only()
    assert not run.warnings
    oom, ok = by_workload(run, "fault-oom"), by_workload(run, "fault-ok")
    for platform in ("native", "docker", "libvirt"):
        trial = oom[platform]
        assert (trial.status, trial.cause) == ("failed", "oom"), trial
        assert "killed by the OOM killer at the 256 MiB memory limit" in trial.error
        assert ok[platform].status == "ok", ok[platform]
        assert ok[platform].instance != trial.instance
