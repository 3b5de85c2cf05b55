"""What the density, elasticity and isolation experiments share: which platforms to use, a
record maker stamped with the right acceleration, the host's memory, an instance's CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.collectors.cgroup_source import _cpu_s
from bench.collectors.qemu import qemu_pid
from bench.core.errors import BenchError
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.host import page_cache
from bench.host.cgroupfs import locate
from bench.host.procfs import PROC, parse_stat
from bench.platforms.docker import DockerInstance, DockerPlatform
from bench.platforms.libvirt import LibvirtInstance
from bench.platforms.protocol import Instance, Limits, Platform

MEMINFO = Path("/proc/meminfo")


def chosen_platforms(ctx: ExperimentContext, wanted: str) -> Iterator[tuple[str, Platform]]:
    """The open platforms named in `wanted` (comma-separated), in that order; a name the run
    did not open is skipped (the run chose its platforms, the experiment measures those)."""
    for name in (n.strip() for n in wanted.split(",")):
        if name and name in ctx.platforms:
            yield name, ctx.platforms[name]


def limits_detail(limits: Limits) -> dict[str, Any]:
    return {"vcpus": limits.vcpus, "memory_mib": limits.memory_mib, "cpuset": limits.cpuset_text}


def accel_of(name: str, ctx: ExperimentContext) -> str:
    return ctx.accel if name.startswith("libvirt") else "host"


@dataclass(frozen=True)
class Recorder:
    """Makes one experiment's records on one platform, with its acceleration and common detail."""

    experiment: str
    platform: str
    accel: str
    common: Mapping[str, Any] = field(default_factory=dict)

    def __call__(
        self,
        metric: str,
        value: float | None,
        unit: str,
        repeat: int = 0,
        text: str = "",
        **detail: Any,
    ) -> ExperimentRecord:
        return ExperimentRecord(
            self.experiment,
            self.platform,
            metric,
            value,
            unit,
            repeat=repeat,
            text=text,
            accel=self.accel,
            at=time.time(),
            detail={**self.common, **detail},
        )


def mem_available_bytes(meminfo: Path = MEMINFO) -> int:
    return parse_mem_available(meminfo.read_text())


def parse_mem_available(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise BenchError("/proc/meminfo has no MemAvailable line", "a Linux 3.14+ kernel has one")


def drop_caches() -> bool:
    """Drop the page cache, dentries and inodes (as gVisor's density benchmark does), so
    MemAvailable moves with what instances hold, not with what was cached. False if not root."""
    return page_cache.drop_caches() is None


class VcpuThreads:
    """The CPU time of a VM's vCPU threads ('CPU n/TCG', 'CPU n/KVM': libvirt starts QEMU
    with debug-threads=on), read from /proc so that no libvirt call waits on the domain's
    job lock during a resize. Monotonic across an unplug: a thread that exited counts with
    its last time."""

    def __init__(self, pid: int, proc: Path = PROC) -> None:
        self._tasks = proc / str(pid) / "task"
        self._last: dict[str, float] = {}

    def read(self) -> float | None:
        try:
            tasks = list(self._tasks.iterdir())
        except OSError:
            return None  # QEMU is gone: nothing more to read
        for task in tasks:
            try:
                if not (task / "comm").read_text().startswith("CPU "):
                    continue
                self._last[task.name] = parse_stat((task / "stat").read_text()).own_s
            except OSError:
                continue  # the thread exited between the listing and the read
        return sum(self._last.values())


def cpu_seconds(platform: Platform, instance: Instance) -> Callable[[], float | None]:
    """A reader of the CPU time the instance's workload has received so far, from the host:
    the container's cpuacct cgroup, or the VM's vCPU threads (the guest's own work). None:
    no reading this time (skipped)."""

    if isinstance(instance, LibvirtInstance):
        return VcpuThreads(qemu_pid(instance.name)).read
    if isinstance(instance, DockerInstance) and isinstance(platform, DockerPlatform):
        return _cgroup_cpu(platform, instance)
    raise BenchError(f"no CPU time reader for a {instance.platform} instance")


def _cgroup_cpu(platform: Any, instance: Any) -> Callable[[], float | None]:

    pid = platform.client().api.inspect_container(instance.container_id)["State"]["Pid"]
    where = locate(int(pid)).cpu
    if where is None:
        raise BenchError(f"{instance.name}: the container has no CPU accounting cgroup")
    return lambda: _cpu_s(where)


def background(command: str, seconds: int) -> list[str]:
    """A stress-ng command started in the background inside an instance, bounded by its own
    --timeout so that nothing outlives the experiment even if the stop is never sent."""
    return ["sh", "-c", f"{command} --timeout {seconds}s </dev/null >/dev/null 2>&1 & echo started"]


# A container's PID 1 (sleep) reaps no one: killed workers stay as zombies, so count live ones.
LIVE_STRESS = "ps -eo stat=,comm= | grep -v '^Z' | grep -c stress-ng"
STOP_STRESS = [
    "sh",
    "-c",
    f"pkill stress-ng; while [ $({LIVE_STRESS}) -gt 0 ]; do sleep 0.05; done",
]


def wait_stress(instance: Instance, processes: int, timeout: float) -> None:
    """Wait until `processes` live stress-ng processes run (its parent and the workers)."""
    deadline = time.perf_counter() + timeout
    while True:
        out = instance.exec(["sh", "-c", LIVE_STRESS], timeout=timeout).stdout.strip()
        if out.isdigit() and int(out) >= processes:
            return
        if time.perf_counter() >= deadline:
            raise BenchError(f"{instance.name}: stress-ng did not start ({out or 0} running)")
        time.sleep(0.05)
