"""Elasticity (C7): change a running instance's CPU and memory limits and time the effect.

Each repeat starts a fresh instance, small (1 vCPU) with room to grow (a VM is defined with a
larger maximum: `<vcpu current=...>`, `<memory>` above `<currentMemory>`), grows it to the
big limits, then shrinks it back, while a CPU-bound workload (stress-ng, one
worker per big vCPU) keeps running inside. For each change, timed from the change call:
- change-call-s: the platform's call alone (docker update; libvirt setMemory (balloon) +
  setVcpus (hotplug/unplug) + onlining the new vCPUs through the guest agent, which is what
  udev does in a full guest; our guest has no udev). A VM's shrink offlines the vCPU in the
  guest, then asks for the unplug, which under TCG can pass libvirt's 5 s wait for the guest's
  ACPI eject: the call then returns with that in the records' notes;
- cpu-visible-s / memory-visible-s: until a probe inside (nproc; MemTotal or the cgroup
  limit) shows the new value. The probe runs while the call is still going, and its
  resolution is one exec round trip (recorded as probe_s);
- cpu-effective-s: until the workload's throughput follows. The workload only spins, so its
  throughput is the CPU time it receives, read from the host every poll_s (the container's
  cpuacct cgroup, the VM's vCPU threads in /proc: no libvirt call, which would wait on the
  domain's job lock while the resize runs). The rate over a sliding window crosses the midpoint
  of old and new levels half a window after a step: that is the time reported.
memory-effective-s is not recorded (the reason is in memory-visible-s's detail): no workload's
throughput follows a memory limit short of reclaim or OOM, so any figure would measure the
probe chosen, not the platform.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bench.core.errors import BenchError, PlatformError
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.loadkit import (
    STOP_STRESS,
    Recorder,
    accel_of,
    background,
    chosen_platforms,
    cpu_seconds,
    limits_detail,
)
from bench.platforms.protocol import Instance, InstanceInfo, InstanceSpec, Limits, Platform

MEMORY_EFFECTIVE_OMITTED = (
    "not measured: no workload's throughput follows a memory limit short of reclaim or OOM;"
    " memory-visible-s is when the instance can see (and allocate up to) the new size"
)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Change:
    direction: str  # grow or shrink
    before: Limits
    after: Limits

    def describe(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "from": limits_detail(self.before),
            "to": limits_detail(self.after),
        }


def plan(small: Limits, big: Limits) -> tuple[Change, Change]:
    return Change("grow", small, big), Change("shrink", big, small)


def sizes(settings: Mapping[str, Any], host_cpus: Sequence[int]) -> tuple[Limits, Limits]:
    """Small and big limits on the last CPUs of the host (the first is busiest elsewhere)."""
    cpus = sorted(host_cpus)
    low, high = int(settings["vcpus_small"]), int(settings["vcpus_big"])
    if not low < high <= len(cpus):
        raise BenchError(
            f"elasticity needs 1 <= vcpus_small < vcpus_big <= {len(cpus)} host CPUs,"
            f" not {low} and {high}"
        )
    small_mib, big_mib = int(settings["memory_mib_small"]), int(settings["memory_mib_big"])
    if small_mib >= big_mib:
        raise BenchError("elasticity needs memory_mib_small < memory_mib_big")
    return (
        Limits(low, small_mib, tuple(cpus[-low:])),
        Limits(high, big_mib, tuple(cpus[-high:])),
    )


# --- pure timing arithmetic -------------------------------------------------------------


def step_time(
    samples: Sequence[tuple[float, float]],
    since: float,
    threshold: float,
    window: float,
    rising: bool,
) -> float | None:
    """Seconds from `since` to when a step in the rate of a counter crossed `threshold`.

    samples: (time, counter) in time order. The rate over [t - window, t] crosses the midpoint
    of two levels when t is half a window past an ideal step, so t - window/2 is the estimate
    (windows may start before `since`: a step right at `since` is then found at 0).
    """
    for t, rate in windowed_rates(samples, window):
        if t < since:
            continue
        if (rate >= threshold) if rising else (rate <= threshold):
            return max(0.0, t - window / 2 - since)
    return None


def windowed_rates(
    samples: Sequence[tuple[float, float]], window: float
) -> list[tuple[float, float]]:
    """(t, rate over the last `window` seconds before t) for each sample with a full window."""
    out: list[tuple[float, float]] = []
    start = 0
    for t, value in samples:
        while start + 1 < len(samples) and samples[start + 1][0] <= t - window:
            start += 1
        t0, v0 = samples[start]
        if t - t0 >= window:
            out.append((t, (value - v0) / (t - t0)))
    return out


def midpoint(old_level: float, new_level: float) -> float:
    return (old_level + new_level) / 2


def memory_target(visible_before: int, change: Change) -> int:
    """What the probe should show after the change: the same offset from the limit as before
    (a VM's MemTotal is its RAM less what the kernel keeps; a cgroup limit has no offset)."""
    return visible_before + change.after.memory_mib - change.before.memory_mib


def memory_reached(visible: int, target: int, change: Change) -> bool:
    slack = max(4, abs(change.after.memory_mib - change.before.memory_mib) // 20)
    return abs(visible - target) <= slack


# --- the CPU sampler --------------------------------------------------------------------


@dataclass
class CpuSampler:
    """Reads the instance's CPU time every `period` seconds in a thread, until stopped."""

    read: Callable[[], float | None]
    period: float
    clock: Clock = time.perf_counter
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._run, name="elasticity-cpu", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.read()
            # stamped when the reading came back: a libvirt call waits for the domain's job
            # lock while a resize runs, and its value is that of its return, not its start
            if value is not None:
                self.samples.append((self.clock(), value))
            self._stop.wait(self.period)

    def snapshot(self) -> list[tuple[float, float]]:
        return list(self.samples)


# --- one change -------------------------------------------------------------------------


@dataclass
class Timings:
    call_s: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""
    cpu_visible_s: float | None = None
    memory_visible_s: float | None = None
    cpu_effective_s: float | None = None
    probe_s: list[float] = field(default_factory=list)
    old_rate: float = 0.0  # CPUs the workload had before the change
    threshold: float = 0.0  # the rate that counts as the change taking effect


class ChangeTimer:
    """Runs one change and watches for it: the call in a thread, probes and the CPU rate here."""

    def __init__(self, instance: Instance, sampler: CpuSampler, settings: Mapping[str, Any]):
        self.instance = instance
        self.sampler = sampler
        self.timeout = float(settings["timeout_s"])
        self.window = float(settings["window_s"])
        self.poll = float(settings["poll_s"])
        self.workers = int(settings["vcpus_big"])

    def run(self, change: Change, visible_before: int, old_level: float) -> Timings:
        timings = Timings()
        target = memory_target(visible_before, change)
        new_level = float(min(change.after.vcpus, self.workers))
        threshold = midpoint(old_level, new_level)
        timings.old_rate, timings.threshold = old_level, threshold
        started = time.perf_counter()
        call = threading.Thread(target=self._call, args=(change, timings, started), daemon=True)
        call.start()
        deadline = started + self.timeout
        while time.perf_counter() < deadline and not self._done(timings):
            self._probe(change, target, started, timings)
            if timings.cpu_effective_s is None:
                samples = self.sampler.snapshot()
                timings.cpu_effective_s = step_time(
                    samples, started, threshold, self.window, new_level > old_level
                )
            if timings.error:
                break
        call.join(max(0.0, deadline - time.perf_counter()) + 60)  # libvirt's calls are bounded
        return timings

    def _call(self, change: Change, timings: Timings, started: float) -> None:
        try:
            timings.notes = self.instance.set_limits(change.after)
        except PlatformError as exc:
            timings.error = exc.one_line()
        timings.call_s = time.perf_counter() - started

    def _probe(self, change: Change, target: int, started: float, timings: Timings) -> None:
        if timings.cpu_visible_s is not None and timings.memory_visible_s is not None:
            time.sleep(self.poll)  # only the effect is still awaited
            return
        before = time.perf_counter()
        info = self.instance.probe()
        now = time.perf_counter()
        timings.probe_s.append(now - before)
        if timings.cpu_visible_s is None and info.nproc == change.after.vcpus:
            timings.cpu_visible_s = now - started
        if timings.memory_visible_s is None and memory_reached(
            info.visible_memory_mib, target, change
        ):
            timings.memory_visible_s = now - started

    @staticmethod
    def _done(t: Timings) -> bool:
        return None not in (t.call_s, t.cpu_visible_s, t.memory_visible_s, t.cpu_effective_s)


# --- the workload inside ------------------------------------------------------------------


def spin_argv(workers: int, seconds: int) -> list[str]:
    """stress-ng CPU workers in the background, bounded by their own timeout."""
    return background(f"stress-ng --cpu {workers} --cpu-method int64", seconds)


def wait_level(sampler: CpuSampler, level: float, window: float, timeout: float) -> float:
    """Wait (bounded) until the workload runs at about `level` CPUs; the rate over the last
    window. A busy host may never give it all: the change is then timed from what it had
    (the threshold is the midpoint of the measured old level and the new one)."""
    deadline = time.perf_counter() + timeout
    while True:
        time.sleep(window)
        rates = windowed_rates(sampler.snapshot(), window)
        got = rates[-1][1] if rates else 0.0
        if got >= 0.8 * level or time.perf_counter() >= deadline:
            return got


# --- the experiment -----------------------------------------------------------------------


class ElasticityExperiment:
    name = "elasticity"
    claims = ("C7",)
    defaults: ClassVar[Mapping[str, int | float | str | bool]] = {
        "platforms": "docker,libvirt",
        "repeats": 8,
        "vcpus_small": 1,
        "vcpus_big": 2,
        "memory_mib_small": 512,
        "memory_mib_big": 768,
        "timeout_s": 60.0,  # per change, for every effect to show
        "window_s": 0.3,  # CPU rate window
        "poll_s": 0.05,  # CPU time sampling period
        "ready_timeout_s": 180.0,
    }

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        settings = {**self.defaults, **ctx.settings}
        small, big = sizes(settings, tuple(os.sched_getaffinity(0)))
        for name, platform in chosen_platforms(ctx, str(settings["platforms"])):
            record = Recorder(self.name, name, accel_of(name, ctx), self._common(settings))
            yield from self._on(platform, record, small, big, settings)

    @staticmethod
    def _common(settings: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "workload": f"stress-ng --cpu {settings['vcpus_big']} --cpu-method int64",
            "window_s": settings["window_s"],
            "poll_s": settings["poll_s"],
        }

    def _on(
        self,
        platform: Platform,
        record: Recorder,
        small: Limits,
        big: Limits,
        settings: Mapping[str, Any],
    ) -> Iterator[ExperimentRecord]:
        spec = InstanceSpec(
            small,
            ready_timeout_s=float(settings["ready_timeout_s"]),
            max_vcpus=big.vcpus,
            max_memory_mib=big.memory_mib,
        )
        poll = float(settings["poll_s"])
        for repeat in range(int(settings["repeats"])):
            # A fresh instance each repeat: every repeat makes the same changes from the same
            # state (a VM's vCPU unplug may still be settling long after its call returned).
            with (
                platform.start(spec) as instance,
                CpuSampler(cpu_seconds(platform, instance), poll) as sampler,
            ):
                timer = ChangeTimer(instance, sampler, settings)
                for change in plan(small, big):
                    result = self._one(instance, sampler, timer, change, settings)
                    yield from _records(record, repeat, change, result)
                    if result.error:
                        break  # this instance is in an unknown state: the next repeat is new

    @staticmethod
    def _one(
        instance: Instance,
        sampler: CpuSampler,
        timer: ChangeTimer,
        change: Change,
        settings: Mapping[str, Any],
    ) -> Timings:
        seconds = int(float(settings["timeout_s"]) * 2 + 60)  # outlives the change, bounded
        workers = int(settings["vcpus_big"])
        instance.exec(spin_argv(workers, seconds), timeout=60)
        try:
            window = float(settings["window_s"])
            old_level = float(min(change.before.vcpus, workers))
            measured = wait_level(sampler, old_level, window, float(settings["timeout_s"]))
            visible: InstanceInfo = instance.probe()
            return timer.run(change, visible.visible_memory_mib, measured)
        finally:
            instance.exec(STOP_STRESS, timeout=60)


def _records(
    record: Recorder, repeat: int, change: Change, t: Timings
) -> Iterator[ExperimentRecord]:
    detail = {**change.describe(), "notes": t.notes}
    if t.error:
        yield record("change-call-s", None, "s", repeat, f"failed: {t.error}", **detail)
        return
    probe = sorted(t.probe_s)[len(t.probe_s) // 2] if t.probe_s else None
    missing = "not within the timeout"
    yield record("change-call-s", t.call_s, "s", repeat, **detail)
    effective = {"memory_effective": MEMORY_EFFECTIVE_OMITTED}
    for metric, value, extra in (
        ("cpu-visible-s", t.cpu_visible_s, {"probe_s": probe}),
        ("memory-visible-s", t.memory_visible_s, {"probe_s": probe, **effective}),
        ("cpu-effective-s", t.cpu_effective_s, {"old_rate": t.old_rate, "threshold": t.threshold}),
    ):
        text = "" if value is not None else missing
        yield record(metric, value, "s", repeat, text, **detail, **extra)
