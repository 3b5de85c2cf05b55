"""The orchestration experiment's swarm under faults: node 2 killed halfway through, and the run
interrupted (Ctrl-C) with the swarm up. Either way the outcome is recorded and nothing is
left: both nodes out of the swarm, node 2's namespace, data, processes and cgroups gone."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bench.data.outcomes import Outcome, outcomes
from bench.data.results import load_run
from bench.platforms import labels, swarm
from bench.platforms.labels import RunContext
from tests.integration.test_orchestration import nothing_of
from tests.support.orchestration_run import measure
from tests.support.runs import sigint_as_at_a_terminal

SETTINGS = {"repeats": 2, "scale_to": 2, "timeout_s": 60.0}


def services_of(docker_client: Any, run_id: str) -> list[str]:
    try:
        found = docker_client.services.list(filters={"label": f"{labels.RUN_LABEL}={run_id}"})
    except Exception:
        return []  # no swarm (yet, or any more)
    return [str(s.name) for s in found]


def wait_for(what: str, check: Any, alive: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert alive(), f"the experiment ended before {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.1)


def test_node_2_killed_halfway_is_recorded_and_nothing_is_left(
    tmp_path: Path, docker_client: Any
) -> None:
    run = RunContext.create()
    ended: list[tuple[RunContext, list[Outcome]]] = []
    worker = threading.Thread(
        target=lambda: ended.append(measure(tmp_path, ("docker",), SETTINGS, run)), daemon=True
    )
    worker.start()
    # halfway: the scale-out repeats are done and the self-healing ones have begun
    heal = labels.resource_name(run.run_id, "heal0")
    healing = lambda: heal in services_of(docker_client, run.run_id)  # noqa: E731
    wait_for("self-healing", healing, worker.is_alive)
    killed = swarm.kill_node(swarm.Layout(run.run_id, run.work_dir))
    assert killed >= 1
    worker.join(600)
    assert not worker.is_alive() and ended, "the experiment did not end"
    (outcome,) = ended[0][1]
    assert outcome.status == "failed" and "node 2" in outcome.cause, outcome
    assert "\n" not in outcome.cause
    recorded = load_run(tmp_path / run.run_id)
    assert outcomes(recorded)["orchestration"].status == "failed"
    scale = [r for r in recorded.experiments if r.metric == "scale-out-s"]
    assert len(scale) == SETTINGS["repeats"], "what was measured before the fault is kept"
    assert nothing_of(run, docker_client) == []


def test_ctrl_c_with_the_swarm_up_leaves_nothing(tmp_path: Path, docker_client: Any) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.orchestration_run", str(tmp_path), "docker",
         '{"repeats": 2, "scale_to": 2}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_at_a_terminal,
    )  # fmt: skip
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    assert labels.is_run_id(run_id), child.communicate()
    scale = labels.resource_name(run_id, "scale")
    try:
        wait_for(
            "the swarm's first service",
            lambda: scale in services_of(docker_client, run_id),
            lambda: child.poll() is None,
        )
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err[-2000:]
    run = RunContext(run_id, labels.runs_root() / run_id, labels.runs_root() / run_id / "logs")
    assert nothing_of(run, docker_client) == []


@pytest.fixture(autouse=True)
def no_swarm_before(docker_client: Any) -> None:
    state = docker_client.info()["Swarm"]["LocalNodeState"]
    if state != "inactive":
        pytest.skip(f"dockerd is in a swarm already ({state}): not ours to leave")
