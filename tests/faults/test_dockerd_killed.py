"""dockerd killed (SIGKILL) in the middle of a docker trial: that trial fails with "dockerd went
away", docker is dropped for the rest of the run while the native and VM trials go on;
`vcbench host setup` brings dockerd back and `--resume` finishes the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.host import daemons
from tests.faults.conftest import Runs

DOCKERD = daemons.by_name("dockerd")
IN_FLIGHT = "4.5"  # fault-slow's sleep: how its process is told from any other


def docker_trial_running() -> bool:
    """fault-slow's sleep is running inside a container (not natively, not in the VM)."""
    for proc in psutil.process_iter(["cmdline"]):
        if proc.info["cmdline"] == ["sleep", IN_FLIGHT]:
            try:
                if "docker" in Path(f"/proc/{proc.pid}/cgroup").read_text():
                    return True
            except OSError:
                continue
    return False


def wait_until(condition: str, check: object, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while not check():  # type: ignore[operator]
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, f"never saw {condition}"
        time.sleep(0.05)


@pytest.fixture
def dockerd_comes_back() -> Iterator[None]:
    """Whatever the test's outcome, dockerd answers again afterwards: others need it."""
    yield
    if not daemons.answers(DOCKERD):
        daemons.start(DOCKERD)


def kill_dockerd() -> None:
    pid = int(Path("/var/run/docker.pid").read_text())
    process = psutil.Process(pid)
    os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)  # gone (a zombie until its parent reaps it)


def test_dockerd_killed_mid_trial_drops_docker_and_resume_finishes(
    runs: Runs, dockerd_comes_back: None
) -> None:
    child = runs.start("--workload", "fault-slow", "--repeats", "2")
    wait_until("a docker trial in flight", docker_trial_running, child)
    kill_dockerd()
    _, err = child.communicate(timeout=600)
    assert child.returncode == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    run = runs.only()
    assert not run.warnings
    docker = [t for t in run.trials if t.platform == "docker"]
    lost = docker[-1]
    assert (lost.status, lost.cause) == ("failed", "daemon-lost"), lost
    assert "dockerd went away" in lost.error
    others = [t for t in run.trials if t.platform != "docker"]
    assert {(t.platform, t.round) for t in others} == {
        (p, r) for p in ("native", "libvirt") for r in (0, 1)
    }, "native and VM trials go on"
    assert {t.status for t in others} == {"ok"}, [t.error for t in others]
    dropped = [e for e in run.events if e.kind == "dropped-platform"]
    assert len(dropped) == 1 and "dockerd went away" in dropped[0].message

    setup = subprocess.run(
        [sys.executable, "-m", "bench.host", "setup"], capture_output=True, text=True, timeout=300
    )
    assert setup.returncode == 0 and daemons.answers(DOCKERD), setup.stdout + setup.stderr
    resumed = runs.resume(run.run_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = runs.only()
    ids = [t.trial_id for t in after.trials]
    assert len(ids) == len(set(ids)) == 3 * 2  # every trial once: none repeated, none missing
    assert {t.status for t in after.trials if t.trial_id != lost.trial_id} == {"ok"}
