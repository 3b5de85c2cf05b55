"""Density, elasticity and isolation on the real daemons, with tiny settings; nothing leaks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.density import DensityExperiment
from bench.experiments.elasticity import ElasticityExperiment
from bench.experiments.isolation import IsolationExperiment
from bench.platforms.labels import RunContext
from bench.platforms.protocol import Limits, PlatformConfig
from bench.platforms.registry import open_platform
from tests.integration.platform_support import built_images, leftovers_of

PLATFORMS = ("docker", "libvirt")
EXPERIMENTS: dict[str, Any] = {
    "density": DensityExperiment,
    "elasticity": ElasticityExperiment,
    "isolation": IsolationExperiment,
}


@pytest.fixture
def measure(docker_client: Any, libvirt_conn: Any, no_leaks: None) -> Iterator[Any]:
    """Runs one experiment on docker and libvirt (TCG) with the given settings; afterwards
    the run leaves nothing behind, not even a network."""
    images = built_images()
    run = RunContext.create()
    last_cpu = max(os.sched_getaffinity(0))
    limits = Limits.on_host(1, 256, str(last_cpu))

    def run_experiment(name: str, settings: dict[str, Any]) -> list[ExperimentRecord]:
        with ExitStack() as stack:
            config = PlatformConfig(run, images, accel="tcg")
            platforms = {p: stack.enter_context(open_platform(p, config)) for p in PLATFORMS}
            experiment = EXPERIMENTS[name]()
            chosen = {**experiment.defaults, **settings}
            ctx = ExperimentContext(platforms, limits, images, "tcg", chosen)
            records = list(experiment.run(ctx))
            left = leftovers_of(run.run_id, docker_client, libvirt_conn)
            assert [x for x in left if " network " not in x] == []
        return records

    yield run_experiment
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []


def of(records: list[ExperimentRecord], platform: str, metric: str) -> list[ExperimentRecord]:
    return [r for r in records if r.platform == platform and r.metric == metric]


def test_density_ramp_of_three(measure: Any) -> None:
    records = measure("density", {"max_containers": 3, "max_vms": 3, "deadline_s": 180.0})
    for platform in PLATFORMS:
        startups = of(records, platform, "startup-s")
        assert [r.repeat for r in startups] == [0, 1, 2]
        assert all(r.value and 0 < r.value < 180 for r in startups)
        assert of(records, platform, "instances")[0].value == 3
        assert of(records, platform, "stop-reason")[0].text == "max-instances"
        per = of(records, platform, "bytes-per-instance")[0]
        assert per.unit == "B" and per.value is not None
    assert {r.accel for r in records if r.platform == "libvirt"} == {"tcg"}


def test_elasticity_one_change_each_way(measure: Any) -> None:
    records = measure("elasticity", {"repeats": 1, "timeout_s": 60.0})
    for platform in PLATFORMS:
        calls = of(records, platform, "change-call-s")
        assert [r.detail["direction"] for r in calls] == ["grow", "shrink"]
        assert all(r.value is not None for r in calls), calls
        for metric in ("cpu-visible-s", "memory-visible-s"):
            seen = of(records, platform, metric)
            assert len(seen) == 2 and all(r.value is not None for r in seen), seen
        assert len(of(records, platform, "cpu-effective-s")) == 2
    docker_grow = of(records, "docker", "change-call-s")[0]
    assert docker_grow.detail["to"] == {"vcpus": 2, "memory_mib": 768, "cpuset": "0-1"}


def test_isolation_one_cpu_victim(measure: Any) -> None:
    records = measure("isolation", {"victims": "cpu", "repeats": 1, "duration_s": 2})
    for platform in PLATFORMS:
        alone = of(records, platform, "victim-alone")
        noisy = of(records, platform, "victim-with-neighbour")
        assert len(alone) == len(noisy) == 1
        assert alone[0].value and noisy[0].value and alone[0].unit == "events/s"
        assert noisy[0].detail["neighbour"].startswith("stress-ng --cpu 1")
