"""Density (C6): start idle instances of one kind, one after another, until a limit is hit.

Every instance gets the run's limits and stays up (idle: the keeper sleeps; a VM's kernel
idles, which under TCG still burns some host CPU) while the next starts, so the startup
time of the i-th instance shows what the first i-1 cost. The ramp stops at the first of:
- budget: the memory they hold (host MemAvailable before less now) plus one more instance
  at the average so far would pass the budget (default min(budget_mib, budget_fraction of
  MemAvailable at the start), a safe share of this 24 GiB host);
- deadline: an instance took longer than deadline_s to become ready, or the ramp passed
  total_s;
- max-instances: max_containers / max_vms reached;
- failed: a start failed for another reason (the message is kept).
Memory per instance is gVisor's density method: (MemAvailable before - after) / N, caches
dropped before each reading (root only; without root the figure is kept and flagged); and
per instance, what MemAvailable lost while each one started (step-bytes, caches not dropped:
dropping them at every step would disturb the instances already up).
Everything is removed afterwards, whatever happens (one ExitStack holds every instance).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar

from bench.core.errors import BenchError, InstanceTimeout
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.loadkit import (
    Recorder,
    accel_of,
    chosen_platforms,
    drop_caches,
    limits_detail,
    mem_available_bytes,
)
from bench.platforms.protocol import InstanceSpec, Limits, Platform

MIB = 2**20


@dataclass(frozen=True)
class Bounds:
    budget_bytes: int
    deadline_s: float  # one instance's create -> ready
    total_s: float  # the whole ramp
    max_instances: int

    def detail(self) -> dict[str, Any]:
        return {
            "budget_mib": self.budget_bytes // MIB,
            "deadline_s": self.deadline_s,
            "total_s": self.total_s,
            "max_instances": self.max_instances,
        }


def budget_bytes(budget_mib: int, fraction: float, available: int) -> int:
    return int(min(budget_mib * MIB, fraction * available))


def stop_reason(count: int, elapsed_s: float, used_bytes: int, bounds: Bounds) -> str | None:
    """Why not to start one more instance now, or None to go on."""
    if count >= bounds.max_instances:
        return "max-instances"
    if elapsed_s >= bounds.total_s:
        return "deadline"
    next_one = used_bytes / count if count else 0.0  # the next costs what the others did
    if used_bytes + next_one > bounds.budget_bytes:
        return "budget"
    return None


def bytes_per_instance(before: int, after: int, count: int) -> float | None:
    """gVisor's density figure: what MemAvailable lost, shared out; None with no instance."""
    return (before - after) / count if count else None


@dataclass
class Ramp:
    """The ramp's state: instances started, their startup times, why it ended."""

    started: int = 0
    reason: str = ""


class DensityExperiment:
    name = "density"
    claims = ("C6",)
    defaults: ClassVar[Mapping[str, int | float | str | bool]] = {
        "platforms": "docker,libvirt",
        "budget_mib": 8192,
        "budget_fraction": 1 / 3,  # of MemAvailable at the start
        "deadline_s": 60.0,
        "total_s": 900.0,
        "max_containers": 24,
        "max_vms": 12,
    }

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        settings = {**self.defaults, **ctx.settings}
        for name, platform in chosen_platforms(ctx, str(settings["platforms"])):
            yield from self._ramp(name, platform, ctx, settings)

    def _ramp(
        self, name: str, platform: Platform, ctx: ExperimentContext, settings: Mapping[str, Any]
    ) -> Iterator[ExperimentRecord]:
        dropped = drop_caches()
        before = mem_available_bytes()
        bounds = _bounds(name, settings, before)
        common = {**bounds.detail(), "caches_dropped": dropped, "limits": limits_detail(ctx.limits)}
        record = Recorder(self.name, name, accel_of(name, ctx), common)
        ramp = Ramp()
        with ExitStack() as running:
            yield from _start_all(platform, ctx.limits, bounds, before, running, ramp, record)
            drop_caches()
            after = mem_available_bytes()
            per = bytes_per_instance(before, after, ramp.started)
            memory = {"mem_available_before": before, "mem_available_after": after}
            yield record("instances", float(ramp.started), "instances", memory=memory)
            yield record("bytes-per-instance", per, "B", memory=memory)
            yield record("stop-reason", None, "", text=ramp.reason)


def _start_all(
    platform: Platform,
    limits: Limits,
    bounds: Bounds,
    before: int,
    running: ExitStack,
    ramp: Ramp,
    record: Recorder,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[ExperimentRecord]:
    began = clock()
    spec = InstanceSpec(limits, ready_timeout_s=bounds.deadline_s)
    while True:
        used = before - mem_available_bytes()
        reason = stop_reason(ramp.started, clock() - began, used, bounds)
        if reason:
            ramp.reason = reason
            return
        try:
            instance = running.enter_context(platform.start(spec))
        except InstanceTimeout:
            ramp.reason = "deadline"
            return
        except BenchError as exc:
            ramp.reason = f"failed: {exc.one_line()}"
            return
        ramp.started += 1
        startup = instance.startup.total_s
        yield record(
            "startup-s", startup, "s", ramp.started - 1, running=ramp.started, used_bytes=used
        )
        # What this one instance took from the host, once it is ready: one figure per
        # instance, so the claim compares distributions with an interval, not two averages.
        step = before - mem_available_bytes() - used
        yield record("step-bytes", float(step), "B", ramp.started - 1, running=ramp.started)
        if startup > bounds.deadline_s:
            ramp.reason = "deadline"
            return


def _bounds(platform: str, settings: Mapping[str, Any], available: int) -> Bounds:
    is_vm = platform.startswith("libvirt")
    return Bounds(
        budget_bytes(int(settings["budget_mib"]), float(settings["budget_fraction"]), available),
        float(settings["deadline_s"]),
        float(settings["total_s"]),
        int(settings["max_vms"] if is_vm else settings["max_containers"]),
    )
