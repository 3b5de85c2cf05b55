"""What sampling costs: one read of each source (the host's, and each platform's own on a real,
idle instance) and the share of one core the sampler takes at 10 Hz.

Reported, not asserted: the only bound is a sanity one, far above anything expected."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.collectors import Sampler, sources_for
from bench.collectors.host import HostSource
from bench.collectors.records import Source
from bench.core.errors import BenchError
from bench.platforms.labels import RunContext
from bench.platforms.protocol import Instance, InstanceSpec, Limits, PlatformConfig
from bench.platforms.registry import open_platform

RATE_HZ = 10.0
SHARE_S = float(os.environ.get("VCBENCH_PERF_SAMPLE_S", "5"))
SANE_SHARE = 0.5  # half a core for a 10 Hz sampler would be a bug, not a slow host


@pytest.fixture(scope="module")
def instance(request: pytest.FixtureRequest) -> Iterator[Instance]:
    """One idle instance per platform for the whole module: 1 vCPU, 384 MiB."""
    from bench.images.build import current

    try:
        images = current()
    except BenchError as exc:
        pytest.skip(exc.one_line())
    limits = Limits.on_host(1, 384, str(max(os.sched_getaffinity(0))))
    config = PlatformConfig(RunContext.create(), images, accel="tcg")
    with (
        open_platform(request.param, config) as platform,
        platform.start(InstanceSpec(limits, ready_timeout_s=120)) as started,
    ):
        yield started


def source_named(instance: Instance, name: str) -> Source:
    return next(s for s in sources_for(instance) if s.name == name)


def sample(sources: list[Source], benchmark: Any) -> None:
    """Run a 10 Hz sampler for SHARE_S seconds and report what it cost."""
    samplers: list[Sampler] = []

    def run() -> None:
        with Sampler(sources, rate_hz=RATE_HZ) as sampler:
            time.sleep(SHARE_S)  # an idle trial: the main thread waits, as in exec
        samplers.append(sampler)

    benchmark.pedantic(run, rounds=1, iterations=1)
    sampler = samplers[0]
    cost = sampler.cost
    benchmark.extra_info.update(
        rate_hz=RATE_HZ,
        ticks=cost.ticks,
        mean_tick_s=cost.mean_tick_s,
        cpu_s=cost.cpu_s,
        wall_s=cost.wall_s,
        core_share=cost.core_share,
        mean_read_s=cost.mean_read_s,
    )
    print(f"\n{[s.name for s in sources]} at {RATE_HZ:g} Hz: {cost}")
    assert sampler.errors == []
    assert cost.ticks >= SHARE_S * RATE_HZ / 2  # most slots were met
    assert cost.core_share < SANE_SHARE, cost


def test_host_source_read(benchmark: Any) -> None:
    assert benchmark(HostSource().read)["cpu_s"] > 0


def test_host_only_core_share_at_10hz(benchmark: Any) -> None:
    sample([HostSource()], benchmark)


@pytest.mark.parametrize(
    ("instance", "source"),
    [("docker", "cgroup"), ("native", "cgroup"), ("libvirt", "qemu"), ("libvirt", "libvirt")],
    indirect=["instance"],
)
def test_platform_source_read(benchmark: Any, instance: Instance, source: str) -> None:
    values = benchmark(source_named(instance, source).read)
    assert values


BURN_S = 2
BURNER = ["sh", "-c", f"timeout {BURN_S} sh -c 'while :; do :; done'; true"]
BURN_SHOWN_S = 0.5  # CPU seconds of a 2 s one-CPU burn the counter must show, shared host
# (platform, its own source, its CPU counter), as tests/integration/test_collectors.py reads
CPU_COUNTERS = [
    ("docker", "cgroup", "cpu_s"),
    ("native", "cgroup", "cpu_s"),
    ("libvirt", "qemu", "cpu_s"),
    ("libvirt", "libvirt", "vcpu_s"),
]


@pytest.mark.parametrize(("instance", "source", "counter"), CPU_COUNTERS, indirect=["instance"])
def test_a_burn_shows_in_the_platforms_cpu_counter(
    instance: Instance, source: str, counter: str
) -> None:
    """Moved from the integration tier: how much of a burn a counter shows is a budget."""
    # Sampled through the burn, as a trial is: a native instance without cpuacct counts its
    # processes' CPU time, and a process that exits between two reads is seen by none.
    with Sampler([source_named(instance, source)], rate_hz=RATE_HZ) as sampler:
        result = instance.exec(BURNER, timeout=120)
    assert result.exit_code == 0, result
    series = [r.values[counter] for r in sampler.readings if counter in r.values]
    grown = series[-1] - series[0]
    print(f"\n{instance.platform} {source}.{counter}: {grown:.3f} s over a {BURN_S} s burn")
    assert grown > BURN_SHOWN_S, f"{source}.{counter} grew {grown:.3f} s over a {BURN_S} s burn"


@pytest.mark.parametrize("instance", ["docker", "native", "libvirt"], indirect=True)
def test_core_share_at_10hz(benchmark: Any, instance: Instance) -> None:
    """Every source of the platform, the host's included: what a trial's sampler costs."""
    sample(sources_for(instance), benchmark)
