"""The orchestration experiment's pure parts and the swarm's names, no daemon touched."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bench.core.errors import BenchError
from bench.experiments import catalog
from bench.experiments.orchestration import (
    LoadTally,
    OrchestrationExperiment,
    Settings,
    endpoints,
    restart_metric,
)
from bench.platforms import labels, swarm

RUN = "20261207-024500-abcdef"


def task(state: str, port: int | None, node: str = "n1", tid: str = "t") -> dict[str, object]:
    status: dict[str, object] = {"State": state}
    if port is not None:
        status["PortStatus"] = {"Ports": [{"PublishedPort": port, "TargetPort": 8080}]}
    return {"ID": tid, "NodeID": node, "Status": status}


def test_only_running_tasks_with_a_published_port_are_endpoints() -> None:
    found = endpoints(
        [
            task("running", 30001, "n1", "a"),
            task("starting", 30002, "n2", "b"),
            task("running", None, "n2", "c"),
            {"ID": "d", "NodeID": "n2", "Status": {"State": "running", "PortStatus": {}}},
        ]
    )
    assert [(e.task, e.node, e.port) for e in found] == [("a", "n1", 30001)]


def test_the_load_tally_counts_failed_requests_and_rounds_no_node_answered() -> None:
    tally = LoadTally()
    for answered in ([True, True], [False, True], [False, False], [True, False]):
        tally.add(answered)
    assert (tally.rounds, tally.requests, tally.failed, tally.failed_both) == (4, 8, 4, 1)


def test_the_restart_delays_have_their_own_metrics() -> None:
    assert restart_metric(0.0) == "recovery-s"  # the one the VM's recovery is judged against
    assert restart_metric(5.0) == "recovery-default-delay-s"


def test_registered_with_settings_checked_before_the_run() -> None:
    assert catalog.experiment_class("orchestration").__name__ == "OrchestrationExperiment"
    chosen = catalog.choose({"orchestration": {"repeats": 6}}, None, "suite")
    assert chosen[-1][1]["repeats"] == 6 and chosen[-1][1]["scale_to"] == 3
    with pytest.raises(catalog.ExperimentChoiceError, match="unknown setting"):
        catalog.resolve("orchestration", {"replicas": 3}, "suite")
    with pytest.raises(BenchError, match="scale_to >= 2"):
        Settings.of({**OrchestrationExperiment.defaults, "scale_to": 1})


def test_what_is_only_shown_repeats_as_often_as_what_is_judged_unless_told() -> None:
    def settings(**given: int) -> Settings:
        chosen = catalog.choose({"orchestration": given}, None, "suite")
        return Settings.of(chosen[-1][1])

    assert settings(repeats=6).shown_repeats == 6
    assert (settings(repeats=6, shown_repeats=3).shown_repeats, settings().repeats) == (3, 5)
    with pytest.raises(catalog.ExperimentChoiceError, match="must be positive"):
        catalog.resolve("orchestration", {"shown_repeats": 0}, "suite")


def test_every_name_carries_the_run_so_gc_finds_it() -> None:
    layout = swarm.Layout(RUN, Path("/state/runs") / RUN)
    assert labels.run_of(layout.namespace) == RUN
    assert labels.run_of(layout.cgroup_parent) == RUN
    assert labels.run_of(layout.exec_root.name) == RUN
    assert layout.socket.name == layout.namespace + ".sock"
    assert len(layout.bridge) <= 15 and len(layout.veth) <= 15  # Linux interface names
    assert layout.node_dir.is_relative_to(Path("/state/runs") / RUN / "instances")
    assert len(str(layout.exec_root / "containerd" / "containerd.sock")) < 100  # sun_path


def test_node_2_enters_only_the_network_namespace() -> None:
    """`ip netns exec` remounts /sys, which hides the cgroup mounts dockerd needs."""
    layout = swarm.Layout(RUN, Path("/w"))
    argv = swarm.dockerd_argv(layout)
    assert argv[:3] == ["nsenter", f"--net=/run/netns/{layout.namespace}", "dockerd"]
    for flag in ("--data-root", "--exec-root", "--pidfile", "--host", "--cgroup-parent"):
        assert flag in argv
    # its own containerd, not the host's: two dockerds in one containerd namespace would
    # each see the other's containers
    assert argv[argv.index("--containerd") + 1] == str(layout.containerd_socket)
    assert swarm.containerd_argv(layout)[:3] == [*argv[:2], "containerd"]
    config = swarm.containerd_config(layout)
    assert f'address = "{layout.containerd_socket}"' in config and "grpc.v1.cri" in config


def test_the_bridge_subnet_avoids_the_hosts_own() -> None:
    first = swarm.pick_subnet(RUN, [])
    assert first.subnet_of(swarm.SUBNET_POOL) and first.prefixlen == 24
    assert swarm.pick_subnet(RUN, [first]) != first
    with pytest.raises(BenchError, match="no free /24"):
        swarm.pick_subnet(RUN, [ipaddress.IPv4Network("10.0.0.0/8")])
    with pytest.raises(BenchError, match="no free /24"):
        swarm.pick_subnet(RUN, [swarm.SUBNET_POOL])
    addresses = swarm.Addresses(first)
    assert (addresses.node1, addresses.node2) == (
        str(first.network_address + 1),
        str(first.network_address + 2),
    )


class _Swarm:
    def __init__(self, run_id: str) -> None:
        self.attrs = {"Spec": {"Labels": {labels.RUN_LABEL: run_id}}}

    def reload(self) -> None:
        return None


class _Networks:
    def list(self, **_: object) -> list[object]:
        return []


class _Host:
    """What gc's swarm finder asks node 1's dockerd, answered without a daemon."""

    def __init__(self, state: str, run_id: str) -> None:
        self.state, self.swarm, self.networks = state, _Swarm(run_id), _Networks()

    def info(self) -> dict[str, object]:
        return {"Swarm": {"LocalNodeState": self.state, "ControlAvailable": True}}


def test_gc_finds_a_swarm_by_its_label_and_no_other() -> None:
    def swarms(host: _Host) -> list[tuple[str, str]]:
        return [(f.kind, f.run_id) for f in swarm.leftovers(host) if f.kind == "swarm"]

    assert swarms(_Host("active", RUN)) == [("swarm", RUN)]
    assert swarms(_Host("active", "someone else's")) == []
    assert swarms(_Host("inactive", RUN)) == []
