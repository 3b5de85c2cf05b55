"""A guest that dies under a trial (a kernel panic, or the workload powering the VM off) fails
that trial as instance-lost with the console's last lines, and the run goes on with a fresh
instance. The VM only: these workloads would take down whichever kernel they run on."""

from __future__ import annotations

import pytest

from tests.faults.conftest import Runs, by_workload


@pytest.mark.parametrize(
    ("workload", "last_words"),
    [("fault-panic", "sysrq triggered crash"), ("fault-poweroff", "")],
)
def test_a_lost_guest_fails_its_trial_with_its_last_console_lines(
    runs: Runs, workload: str, last_words: str
) -> None:
    done = runs.run("--platforms", "libvirt", "--workload", workload, "--workload", "fault-ok")
    assert done.returncode == 1, done.stderr[-2000:]
    run = runs.only()
    assert not run.warnings
    lost, ok = by_workload(run, workload)["libvirt"], by_workload(run, "fault-ok")["libvirt"]
    assert (lost.status, lost.cause) == ("failed", "instance-lost"), lost
    assert "the VM went away" in lost.error and "last console lines:" in lost.error
    assert last_words in lost.error
    (first_vm,) = (run.directory / "logs").glob("*-libvirt-1.log")  # the one that was lost
    assert "VCBENCH-READY" in first_vm.read_text(errors="replace")  # its whole console is kept
    assert ok.status == "ok" and ok.instance.endswith("-libvirt-2")  # on a fresh instance
