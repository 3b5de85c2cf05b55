"""The collectors on real instances: each platform's own sources see its memory, and CPU time
that grows while a burner runs inside; Docker's figures come without its stats API."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from bench.collectors import Reading, Sampler, sources_for
from bench.platforms.labels import RunContext
from bench.platforms.protocol import Instance, InstanceSpec, Limits, PlatformConfig
from bench.platforms.registry import PLATFORMS, open_platform
from tests.integration.platform_support import built_images, leftovers_of

MEMORY_MIB = 384
BURN_S = 2
BURNER = ["sh", "-c", f"timeout {BURN_S} sh -c 'while :; do :; done'; true"]
BURN_DEADLINE_S = 90
# What each platform's own sources must show: (source, memory gauge, cpu counter).
OWN: dict[str, list[tuple[str, str, str]]] = {
    "native": [("cgroup", "mem_bytes", "cpu_s")],
    "docker": [("cgroup", "mem_bytes", "cpu_s")],
    "podman": [("cgroup", "mem_bytes", "cpu_s")],
    "gvisor": [("cgroup", "mem_bytes", "cpu_s")],  # the sandbox's container cgroup
    "libvirt": [("qemu", "rss_bytes", "cpu_s"), ("libvirt", "actual_bytes", "vcpu_s")],
}


def _least(source: str) -> int:
    """Readings a source must make: every tick for the /proc and cgroup files; libvirt may
    skip ticks while QEMU's monitor is busy, and asks for the balloon once a second only."""
    return 3 if source == "libvirt" else 10


def _enough(readings: list[Reading], own: list[tuple[str, str, str]]) -> bool:
    counts = Counter(r.source for r in list(readings))
    return all(counts[source] >= _least(source) for source, _, _ in own)


@pytest.fixture(params=sorted(PLATFORMS))
def started(
    request: pytest.FixtureRequest, docker_client: Any, libvirt_conn: Any, no_leaks: None
) -> Iterator[Instance]:
    images = built_images()
    run = RunContext.create()
    limits = Limits.on_host(1, MEMORY_MIB, str(max(os.sched_getaffinity(0))))
    config = PlatformConfig(run, images, accel="tcg")
    with (
        open_platform(request.param, config) as platform,
        platform.start(InstanceSpec(limits, ready_timeout_s=120)) as instance,
    ):
        yield instance
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []


@pytest.fixture
def no_docker_stats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of Docker's stats API, low level or through a container: there must be none."""
    from docker.api.client import APIClient

    calls: list[str] = []

    def stats(self: Any, container: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(container))
        raise AssertionError("the collectors called Docker's stats API")

    monkeypatch.setattr(APIClient, "stats", stats)
    return calls


def test_own_sources_see_memory_and_growing_cpu(
    started: Instance, no_docker_stats: list[str], record_property: Any
) -> None:
    instance = started
    sources = sources_for(instance)
    own = OWN[instance.platform]
    assert [s.name for s in sources] == ["host", *(name for name, _, _ in own)]
    sunk: list[Reading] = []
    with Sampler(sources, rate_hz=10, sink=sunk.append) as sampler:
        # The burner runs in the instance while this thread waits in exec, as a trial's would;
        # again until each own source has read enough, since under TCG a busy guest's monitor
        # can take seconds a reading (CI once saw 1.8 s, and two readings in one burn).
        deadline = time.monotonic() + BURN_DEADLINE_S
        while True:
            result = instance.exec(BURNER, timeout=120)
            assert result.exit_code == 0, result
            if _enough(sampler.readings, own) or time.monotonic() > deadline:
                break
    assert sampler.errors == []
    assert no_docker_stats == []
    assert sunk == sampler.readings

    for source, memory, cpu in own:
        series = [r.values for r in sampler.readings if r.source == source]
        least = _least(source)
        assert len(series) >= least, f"{source}: {len(series)} readings, {result}, {sampler.cost}"
        memories = [v[memory] for v in series if memory in v]
        assert memories and all(m > 0 for m in memories), f"{source}.{memory}: {series}"
        grown = series[-1][cpu] - series[0][cpu]
        # That it grows is the collectors' job; how much of the burn it shows on a shared
        # host is a timing budget: tests/perf/test_collectors_perf.py measures that.
        assert grown > 0, f"{source}.{cpu} did not grow over a {BURN_S} s burn: {series}"
        assert all(b[cpu] >= a[cpu] for a, b in pairwise(series))

    last = {r.source: r.values for r in sampler.readings}
    if instance.platform == "libvirt":
        qemu = [r.values for r in sampler.readings if "pss_bytes" in r.values][-1]
        assert 0 < qemu["uss_bytes"] <= qemu["pss_bytes"] <= qemu["rss_bytes"]
        balloon = [r.values for r in sampler.readings if "actual_bytes" in r.values]
        assert balloon[-1]["actual_bytes"] == MEMORY_MIB * 2**20
    else:
        assert 0 < last["cgroup"]["mem_bytes"] <= MEMORY_MIB * 2**20
    summary = {(s.source, s.field): s for s in sampler.summary()}
    cpu_share = summary[own[0][0], own[0][2]]
    assert cpu_share.unit == "cores" and cpu_share.peak > 0
    cost = sampler.cost
    record_property("sampler_cost", cost)
    # what sampling costs (its share of a core) is the perf tier's: test_core_share_at_10hz
    assert cost.ticks >= 10 and cost.core_share > 0, cost
