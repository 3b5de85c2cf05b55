"""The orchestration experiment on the real daemons: a two-node swarm (the host's dockerd and a
second one in a network namespace) and the VM beside it, small settings, once for the module.
Every event is measured, and nothing is left: no swarm, no namespace, no node-2 data. A swarm
that cannot form (a port taken) fails the experiment in one line, and the others go on."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.data.outcomes import Outcome, current_records
from bench.data.results import ExperimentRecord, load_run
from bench.platforms import swarm
from bench.platforms.labels import RunContext
from tests.integration.platform_support import built_images, leftovers_of
from tests.support.orchestration_run import measure

pytestmark = pytest.mark.slow
# what C12 judges twice, what is only shown beside it once
SMALL = {"repeats": 2, "shown_repeats": 1, "scale_to": 2, "timeout_s": 90.0}


def nothing_of(run: RunContext, docker_client: Any) -> list[str]:
    """The swarm's own traces, beyond what gc reports: the daemon's state, the namespace,
    the bridge, node 2's data and exec-root, docker_gwbridge."""
    layout = swarm.Layout(run.run_id, run.work_dir)
    left = []
    state = docker_client.info()["Swarm"]["LocalNodeState"]
    if state != "inactive":
        left.append(f"dockerd swarm state {state}")
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if layout.namespace in namespaces:
        left.append(f"namespace {layout.namespace}")
    if Path("/sys/class/net", layout.bridge).exists():
        left.append(f"bridge {layout.bridge}")
    left += [str(p) for p in (layout.node_dir, layout.exec_root, layout.socket) if p.exists()]
    if docker_client.networks.list(names=["docker_gwbridge"]):
        left.append("docker_gwbridge")
    return left


@pytest.fixture(scope="module")
def measured(
    tmp_path_factory: pytest.TempPathFactory, docker_client: Any, libvirt_conn: Any
) -> Iterator[tuple[list[ExperimentRecord], list[Outcome]]]:
    built_images()
    directory = tmp_path_factory.mktemp("results")
    run, found = measure(directory, ("docker", "libvirt"), SMALL)
    yield list(current_records(load_run(directory / run.run_id))), found
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []
    assert nothing_of(run, docker_client) == []


def by_metric(records: list[ExperimentRecord]) -> dict[tuple[str, str], list[ExperimentRecord]]:
    found: dict[tuple[str, str], list[ExperimentRecord]] = {}
    for r in records:
        found.setdefault((r.platform, r.metric), []).append(r)
    return found


def test_it_ended_well(measured: tuple[list[ExperimentRecord], list[Outcome]]) -> None:
    _, found = measured
    assert [(o.name, o.status, o.cause) for o in found] == [("orchestration", "ok", "")]


def test_every_swarm_event_is_timed_per_repeat(
    measured: tuple[list[ExperimentRecord], list[Outcome]],
) -> None:
    records = by_metric(measured[0])
    judged = ("scale-out-s", "recovery-s")
    shown = (
        "recovery-default-delay-s",
        "node-failure-s",
        "rolling-update-s",
        "rolling-update-failed-requests",
    )
    for metric in (*judged, *shown):
        got = records[("docker", metric)]
        want = SMALL["repeats"] if metric in judged else SMALL["shown_repeats"]
        assert len(got) == want, metric
        assert all(r.value is not None and r.value >= 0 for r in got), got
    # Swarm waits its default restart delay before the replacement: never faster than it
    for r in records[("docker", "recovery-default-delay-s")]:
        assert r.value is not None and r.value >= 5.0
    for r in records[("docker", "node-failure-s")]:
        assert r.detail["tasks_on_node2"] >= 1  # something was there to move
    roll = records[("docker", "rolling-update-failed-requests")][0]
    assert roll.detail["requests"] > 0


def test_the_vm_counterpart_is_timed_the_same_way(
    measured: tuple[list[ExperimentRecord], list[Outcome]],
) -> None:
    records = by_metric(measured[0])
    for metric in ("recovery-s", "scale-out-s"):
        got = records[("libvirt", metric)]
        assert len(got) == SMALL["repeats"]
        assert all(r.value is not None and r.value > 0 for r in got), got
        assert all(r.accel in ("kvm", "tcg") for r in got)


def test_a_taken_swarm_port_fails_it_in_one_line_and_the_rest_goes_on(
    tmp_path: Path, docker_client: Any, libvirt_conn: Any
) -> None:
    built_images()
    holder = socket.socket()
    deadline = time.monotonic() + 60  # dockerd may hold it a moment after a swarm is left
    while True:
        try:
            holder.bind(("0.0.0.0", 7946))
            break
        except OSError:
            if time.monotonic() > deadline:
                pytest.skip("port 7946 is taken on this host by someone else")
            time.sleep(1)
    try:
        run, found = measure(tmp_path, ("docker",), SMALL, also=("kernel",))
    finally:
        holder.close()
    outcomes = {o.name: o for o in found}
    assert outcomes["kernel"].status == "ok"
    failed = outcomes["orchestration"]
    assert failed.status == "failed" and "\n" not in failed.cause
    assert "port 7946 is taken" in failed.cause, failed.cause
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []
    assert nothing_of(run, docker_client) == []
