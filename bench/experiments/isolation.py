"""Isolation (C10): a victim's throughput alone, then beside a noisy neighbour.

Per platform, two sibling instances with the same limits (the run's): a victim and a
neighbour. The victim runs one of the suite's own workloads (sysbench cpu, sysbench memory,
fio 4k random read), shortened to duration_s; the neighbour runs stress-ng of the same kind
(cpu, vm, hdd) in the background, bounded by its own timeout. "Alone" means beside the idle
neighbour (it is started, its keeper or kernel idles), so the only change is the noise.
Alone and with-neighbour alternate order from one repeat to the next against drift.

CPU placement (the `placement` setting):
- disjoint (default): the neighbour gets other host CPUs than the victim, as many. Each
  tenant has what its limits promise, so a slowdown is interference through what the CPUs
  share (caches, memory bus, the disk, the host kernel or hypervisor): isolation proper.
- shared: both on the same cpuset. A CPU neighbour then takes half the CPU on any platform
  (the scheduler is fair to both), which measures the scheduler more than the isolation.
A host without enough CPUs for disjoint placement falls back to shared and says so in the
records' detail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar

from bench.core.errors import BenchError, PlatformError
from bench.core.parsers import parse
from bench.core.workload import Workload, fill, load_all
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.loadkit import (
    STOP_STRESS,
    Recorder,
    accel_of,
    background,
    chosen_platforms,
    wait_stress,
)
from bench.platforms.protocol import Instance, InstanceSpec, Limits, Platform


@dataclass(frozen=True)
class Victim:
    kind: str  # cpu, memory, io
    workload: str  # workloads/<name>.toml: the same command the suite measures
    metric: str  # its throughput metric (higher is better)
    neighbour: str  # stress-ng arguments, {vcpus} and {memory_mib} filled from the limits


VICTIMS: dict[str, Victim] = {
    "cpu": Victim("cpu", "cpu-sysbench", "events_per_s", "stress-ng --cpu {vcpus}"),
    "memory": Victim(
        "memory",
        "memory-write",
        "mib_per_s",
        "stress-ng --vm {vcpus} --vm-bytes {vm_mib}M --vm-keep",
    ),
    "io": Victim(
        "io",
        "disk-randread-4k",
        "iops",
        "stress-ng --hdd {vcpus} --hdd-bytes 64M --temp-path /var/tmp",
    ),
}


VICTIM_METRIC = {v.workload: v.metric for v in VICTIMS.values()}


def victims(text: str) -> list[Victim]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(VICTIMS))
    if unknown or not names:
        raise BenchError(
            f"isolation: unknown victim {', '.join(unknown) or '(none)'}",
            f"choose from {', '.join(VICTIMS)}",
        )
    return [VICTIMS[n] for n in names]


def neighbour_command(victim: Victim, limits: Limits) -> str:
    # A quarter of the memory: pressure on the memory bus, never an OOM kill of the tenant.
    return victim.neighbour.format(vcpus=limits.vcpus, vm_mib=max(16, limits.memory_mib // 4))


def placement(
    wanted: str, victim: tuple[int, ...], host: Sequence[int]
) -> tuple[tuple[int, ...], str]:
    """The neighbour's cpuset and the placement really used ('disjoint' or 'shared')."""
    if wanted not in ("disjoint", "shared"):
        raise BenchError(f"isolation: placement {wanted!r}", "choose disjoint or shared")
    others = [cpu for cpu in sorted(host) if cpu not in victim]
    if wanted == "disjoint" and len(others) >= len(victim):
        return tuple(others[-len(victim) :]), "disjoint"
    return victim, "shared"


def order(repeat: int) -> tuple[bool, bool]:
    """Whether the neighbour is noisy, in run order: alone first on even repeats."""
    return (False, True) if repeat % 2 == 0 else (True, False)


class IsolationExperiment:
    name = "isolation"
    claims = ("C10",)
    defaults: ClassVar[Mapping[str, int | float | str | bool]] = {
        "platforms": "docker,libvirt",
        "victims": "cpu,memory,io",
        "repeats": 8,
        "duration_s": 3,
        "file_size_mib": 64,  # the io victim's fio file
        "placement": "disjoint",
        "ready_timeout_s": 180.0,
    }

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        settings = {**self.defaults, **ctx.settings}
        chosen = victims(str(settings["victims"]))
        cpus, used = placement(
            str(settings["placement"]), ctx.limits.cpuset, tuple(os.sched_getaffinity(0))
        )
        neighbour_limits = Limits(ctx.limits.vcpus, ctx.limits.memory_mib, cpus)
        workloads = load_all()
        for name, platform in chosen_platforms(ctx, str(settings["platforms"])):
            common = {
                "placement": used,
                "victim_cpuset": ctx.limits.cpuset_text,
                "neighbour_cpuset": neighbour_limits.cpuset_text,
                "memory_mib": ctx.limits.memory_mib,
                "duration_s": settings["duration_s"],
            }
            record = Recorder(self.name, name, accel_of(name, ctx), common)
            pair = Pair(platform, ctx.limits, neighbour_limits, settings)
            yield from pair.measure(chosen, workloads, record)


class Pair:
    """A victim and a neighbour instance on one platform, started once for every victim."""

    def __init__(
        self, platform: Platform, victim: Limits, neighbour: Limits, settings: Mapping[str, Any]
    ) -> None:
        self.platform = platform
        self.limits = (victim, neighbour)
        self.settings = settings
        self.duration = int(settings["duration_s"])

    def measure(
        self, chosen: list[Victim], workloads: Mapping[str, Workload], record: Recorder
    ) -> Iterator[ExperimentRecord]:
        ready = float(self.settings["ready_timeout_s"])
        with ExitStack() as stack:
            start = self.platform.start
            victim = stack.enter_context(start(InstanceSpec(self.limits[0], ready_timeout_s=ready)))
            neighbour = stack.enter_context(
                start(InstanceSpec(self.limits[1], ready_timeout_s=ready))
            )
            for kind in chosen:
                yield from self._kind(kind, workloads[kind.workload], victim, neighbour, record)

    def _kind(
        self,
        kind: Victim,
        workload: Workload,
        victim: Instance,
        neighbour: Instance,
        record: Recorder,
    ) -> Iterator[ExperimentRecord]:
        noise = neighbour_command(kind, self.limits[1])
        argv = self._victim_argv(workload)
        unit = workload.metrics[kind.metric].unit
        detail = {"victim": kind.kind, "neighbour": noise, "workload": workload.name}
        for repeat in range(int(self.settings["repeats"])):
            for noisy in order(repeat):
                value = self._once(victim, neighbour, argv, workload, noise if noisy else "")
                metric = "victim-with-neighbour" if noisy else "victim-alone"
                yield record(metric, value, unit, repeat, **detail)

    def _victim_argv(self, workload: Workload) -> list[str]:
        limits = self.limits[0]
        values = {
            "vcpus": limits.vcpus,
            "memory_mib": limits.memory_mib,
            "duration": self.duration,
            "file_size_mib": int(self.settings["file_size_mib"]),
            "address": "",
            "port": 0,
        }
        return fill(workload.command, values)

    def _once(
        self,
        victim: Instance,
        neighbour: Instance,
        argv: list[str],
        workload: Workload,
        noise: str,
    ) -> float:
        """The victim's throughput over one run, the neighbour noisy or idle meanwhile."""
        timeout = self.duration * 4 + 120  # fio lays out its file first; TCG is slow
        if noise:
            neighbour.exec(background(noise, timeout + 60), timeout=60)
        try:
            if noise:
                wait_stress(neighbour, self.limits[1].vcpus + 1, 60)
            result = victim.exec(argv, timeout=timeout)
        finally:
            if noise:
                neighbour.exec(STOP_STRESS, timeout=60)
        if result.exit_code != 0:
            raise PlatformError(
                f"{victim.name}: {workload.name} exited {result.exit_code}:"
                f" {result.stderr.strip()[-200:]}"
            )
        metrics = parse(workload.parser or "", result.stdout)
        return metrics[VICTIM_METRIC[workload.name]]
