"""The reaper: what a dead run left behind is removed before anything else measures the host.

A run SIGKILLed mid-trial leaves its container, processes and overlays running: the next
`vcbench run` removes them first and names each. A run whose dockerd was killed under it
leaves its container and network in dockerd's state: `vcbench host setup`, which brings
dockerd back, removes them and says so. Neither touches a live run's things (the unit test
tests/unit/test_platform_gc.py checks that on a live owner beside a dead one).
"""

from __future__ import annotations

from typing import Any

from bench.data.results import load_run
from bench.host import daemons
from tests.faults.conftest import ENV, Runs, sigkilled_run
from tests.faults.test_dockerd_killed import (
    DOCKERD,
    docker_trial_running,
    dockerd_comes_back,
    kill_dockerd,
    wait_until,
)
from tests.integration.conftest import connect_docker, connect_libvirt
from tests.integration.platform_support import leftovers_of
from tests.support.runs import vcbench

__all__ = ["dockerd_comes_back"]  # the fixture, used by name below


def left_of(run_id: str) -> list[str]:
    """What the run left, asked on fresh connections (a daemon may have restarted)."""
    docker, conn = connect_docker(), connect_libvirt()
    try:
        return leftovers_of(run_id, docker, conn)
    finally:
        docker.close()
        conn.close()


def test_the_run_after_a_sigkilled_one_reaps_what_it_left_and_names_it(
    runs: Runs, docker_client: Any, libvirt_conn: Any
) -> None:
    first = sigkilled_run(runs).name
    left = left_of(first)
    assert any(x.startswith("container ") for x in left), left  # still running: the fault

    second = runs.run("--workload", "fault-ok", "--platforms", "native")
    assert second.returncode == 0, second.stderr[-3000:]
    assert left_of(first) == []
    for thing in left:
        assert f"reaped {thing}: its run's owner is gone" in second.stderr, second.stderr[-3000:]
    newest = sorted(p for p in runs.root.iterdir() if (p / "run.json").exists())[-1]
    (event,) = [e for e in load_run(newest).events if e.kind == "reaped"]
    assert first in event.data["runs"]
    assert set(left) <= set(event.data["removed"])


def test_host_setup_reaps_what_a_run_left_in_the_dockerd_it_brings_back(
    runs: Runs, dockerd_comes_back: None
) -> None:
    child = runs.start("--workload", "fault-slow", "--repeats", "1", "--platforms", "native,docker")
    wait_until("a docker trial in flight", docker_trial_running, child)
    kill_dockerd()
    _, err = child.communicate(timeout=600)
    assert child.returncode == 1, err[-3000:]
    first = runs.only().run_id

    setup = vcbench("host", "setup", env=ENV, timeout=300)
    assert setup.returncode == 0 and daemons.answers(DOCKERD), setup.stdout + setup.stderr
    assert left_of(first) == [], "the exited container and the network of the dead run"
    assert f"reaped container vcbench-{first}" in setup.stdout, setup.stdout

    second = runs.run("--workload", "fault-ok", "--platforms", "native,docker")
    assert second.returncode == 0, second.stderr[-3000:]
    # setup left nothing of the first run to reap (a dead run of someone else's may be)
    assert f"(run {first})" not in second.stderr, second.stderr[-3000:]
