"""libvirtd restarted in the middle of a VM trial: the running domain survives, the harness
reconnects, finds the domain again and reopens its console, and the trial completes; the
console log keeps everything from before the restart and what the guest printed after it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.host import daemons
from tests.faults.conftest import Runs, by_workload

LIBVIRTD = daemons.by_name("libvirtd")


@pytest.fixture
def libvirtd_comes_back() -> Iterator[None]:
    """Whatever the test's outcome, libvirtd answers again afterwards: others need it."""
    yield
    if not daemons.answers(LIBVIRTD):
        daemons.start(LIBVIRTD)


def restart_libvirtd() -> None:
    pid = int(Path("/run/libvirtd.pid").read_text())
    process = psutil.Process(pid)
    os.kill(pid, signal.SIGTERM)
    process.wait(timeout=60)
    daemons.start(LIBVIRTD)


def wait_for_raw(root: Path, name: str, child: subprocess.Popen[str]) -> None:
    """Until the run wrote this raw file (a trial's .cmd is written as its exec begins)."""
    deadline = time.monotonic() + 300
    while not list(root.glob(f"*/raw/{name}")):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, f"{name} never appeared"
        time.sleep(0.05)


def test_a_libvirtd_restart_mid_trial_is_survived(runs: Runs, libvirtd_comes_back: None) -> None:
    child = runs.start(
        "--platforms", "native,libvirt", "--workload", "fault-console", "--workload", "fault-ok"
    )
    wait_for_raw(runs.root, "r0-fault-console-libvirt.cmd", child)
    restart_libvirtd()
    _, err = child.communicate(timeout=600)
    assert child.returncode == 0, err[-3000:]
    run = runs.only()
    assert not run.warnings
    trial = by_workload(run, "fault-console")["libvirt"]
    assert trial.status == "ok", trial
    after = by_workload(run, "fault-ok")["libvirt"]
    assert after.status == "ok" and after.instance == trial.instance  # the same domain lives on
    log = (run.directory / "logs" / f"{trial.instance}.log").read_text(errors="replace")
    assert log.index("VCBENCH-READY") < log.index("VCBENCH-AFTER-RESTART")
