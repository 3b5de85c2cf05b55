"""A gVisor sandbox killed (SIGKILL to runsc-sandbox) in the middle of a trial: that trial
fails as instance-lost saying the sandbox went away, the next round gets a fresh sandbox,
and the native trials go on."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from bench.platforms.labels import RUN_LABEL
from tests.faults.conftest import Runs, by_workload

IN_FLIGHT = "sleep 4.5; echo 4.5"  # fault-slow's command: how its exec is told from the probe


def sandbox_in_trial(client: Any) -> int:
    """The runsc-sandbox pid of a vcbench gvisor container running fault-slow, else 0."""
    for container in client.containers.list(filters={"label": RUN_LABEL}):
        attrs = client.api.inspect_container(container.id)
        if attrs["HostConfig"].get("Runtime") != "runsc":
            continue
        for exec_id in attrs.get("ExecIDs") or []:
            found = client.api.exec_inspect(exec_id)
            if found.get("Running") and IN_FLIGHT in " ".join(found["ProcessConfig"]["arguments"]):
                return int(attrs["State"]["Pid"])
    return 0


def wait_for_sandbox(client: Any, child: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 300
    while not (pid := sandbox_in_trial(client)):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "never saw a gvisor trial in flight"
        time.sleep(0.05)
    return pid


def test_a_killed_sandbox_fails_its_trial_and_the_run_goes_on(
    runs: Runs, docker_client: Any
) -> None:
    child = runs.start("--platforms", "native,gvisor", "--workload", "fault-slow", "--repeats", "2")
    os.kill(wait_for_sandbox(docker_client, child), signal.SIGKILL)
    _, err = child.communicate(timeout=600)
    assert child.returncode == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    run = runs.only()
    gvisor = [t for t in run.trials if t.platform == "gvisor"]
    lost = [t for t in gvisor if t.status == "failed"]
    assert len(lost) == 1, [(t.status, t.cause, t.error) for t in gvisor]
    assert lost[0].cause == "instance-lost" and "gVisor sandbox went away" in lost[0].error
    assert lost[0].accel.startswith("runsc-")
    ok = [t for t in gvisor if t.status == "ok"]
    assert len(ok) == 1 and ok[0].instance != lost[0].instance  # a fresh sandbox
    native = by_workload(run, "fault-slow")["native"]
    assert native.status == "ok"
    assert {t.status for t in run.trials if t.platform == "native"} == {"ok"}
    assert not [e for e in run.events if e.kind == "dropped-platform"]
