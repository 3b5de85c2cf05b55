"""Startup latency per platform (create call -> marker received) and the harness's container
start against `docker run --rm IMAGE true`, both timed from outside."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from bench.core.errors import BenchError
from bench.images.artifacts import ImageSet
from bench.platforms.labels import RunContext
from bench.platforms.protocol import InstanceSpec, Limits, Platform, PlatformConfig
from bench.platforms.registry import open_platform

ROUNDS = int(os.environ.get("VCBENCH_PERF_ROUNDS", "10"))


@pytest.fixture(scope="module")
def images() -> ImageSet:
    from bench.images.build import current

    try:
        return current()
    except BenchError as exc:
        pytest.skip(exc.one_line())


@pytest.fixture
def platform(request: pytest.FixtureRequest, images: ImageSet) -> Iterator[Platform]:
    config = PlatformConfig(RunContext.create(), images, accel="tcg")
    with open_platform(request.param, config) as opened:
        yield opened


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@pytest.mark.parametrize("platform", ["native", "docker", "libvirt"], indirect=True)
def test_startup_latency(benchmark: Any, platform: Platform) -> None:
    """One round: start to the marker (and probe), then tear down; the marker time is kept."""
    spec = InstanceSpec(Limits.on_host(1, 512), ready_timeout_s=120)
    totals: list[float] = []

    def once() -> None:
        with platform.start(spec) as instance:
            totals.append(instance.startup.total_s)

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    totals = totals[1:]  # the warm-up round made the network and warmed the caches
    benchmark.extra_info.update(
        startup_p50_s=percentile(totals, 50), startup_p95_s=percentile(totals, 95), n=len(totals)
    )


def test_docker_run_true(benchmark: Any, images: ImageSet) -> None:
    """Docker's own cost for what the harness does: create, attach, start, run, remove."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI")
    argv = [docker, "run", "--rm", images.docker_tag, "true"]
    benchmark.pedantic(lambda: subprocess.run(argv, check=True), rounds=ROUNDS, warmup_rounds=1)


@pytest.mark.parametrize("platform", ["docker"], indirect=True)
def test_harness_container_true(benchmark: Any, platform: Platform) -> None:
    """The harness doing the same from outside: start to marker, exec true, remove."""
    spec = InstanceSpec(Limits.on_host(1, 512), ready_timeout_s=60)

    def once() -> None:
        with platform.start(spec) as instance:
            instance.exec(["true"], timeout=30)

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1, warmup_rounds=1)
