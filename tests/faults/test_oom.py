"""A workload that outgrows its memory limit is recorded as killed by the OOM killer on every
platform (the memory cgroup's counter natively and in the container, the guest kernel's own
count in the VM), not as a bare exit 137; its instance is replaced."""

from __future__ import annotations

from tests.faults.conftest import Runs, failed_then_replaced


def test_a_workload_over_its_memory_limit_is_an_oom_kill_everywhere(runs: Runs) -> None:
    failed_then_replaced(
        runs, "fault-oom", "oom", "killed by the OOM killer at the 256 MiB memory limit"
    )
