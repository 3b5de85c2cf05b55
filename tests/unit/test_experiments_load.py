"""The density, elasticity and isolation experiments' pure parts, and their loops on fakes."""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from bench.core.errors import BenchError, InstanceTimeout, PlatformError
from bench.core.workload import load_all
from bench.data.results import ExperimentRecord
from bench.experiments import catalog as registry
from bench.experiments import density, elasticity, isolation, loadkit
from bench.experiments.context import ExperimentContext
from bench.platforms import resize
from bench.platforms.protocol import (
    ExecResult,
    Instance,
    InstanceInfo,
    InstanceSpec,
    Limits,
    Startup,
)

FIXTURES = Path(__file__).parent / "fixtures" / "parsers"
MIB = 2**20


class FakeInstance(Instance):
    platform = "fake"

    def __init__(self, name: str, limits: Limits, startup_s: float = 0.5) -> None:
        super().__init__(name, limits, Path("/dev/null"))
        self.startup = Startup(startup_s / 2, startup_s / 2)
        self.commands: list[list[str]] = []
        self.outputs: dict[str, str] = {}

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        self.commands.append(list(argv))
        text = " ".join(argv)
        for key, out in self.outputs.items():
            if key in text:
                return ExecResult(out, "", 0, 0.001)
        return ExecResult("", "", 0, 0.001)

    def probe(self) -> InstanceInfo:
        return InstanceInfo(self.limits.vcpus, 24000, self.limits.memory_mib, "fake")

    def set_limits(self, limits: Limits) -> list[str]:
        self.limits = limits
        return []


class FakePlatform:
    """Duck-types Platform.start: instances from a script of startup times or exceptions."""

    name = "fake"

    def __init__(self, script: Sequence[float | Exception] = ()) -> None:
        self.script = iter(script)
        self.running: list[FakeInstance] = []
        self.removed: list[str] = []
        self.count = itertools.count(1)

    @contextmanager
    def start(self, spec: InstanceSpec) -> Iterator[FakeInstance]:
        step = next(self.script, 0.5)
        if isinstance(step, Exception):
            raise step
        instance = FakeInstance(f"fake-{next(self.count)}", spec.limits, step)
        self.running.append(instance)
        try:
            yield instance
        finally:
            self.running.remove(instance)
            self.removed.append(instance.name)


def settings_for(cls: Any, over: dict[str, Any]) -> dict[str, Any]:
    """The experiment's defaults with the test's values over them, as the suite gives them."""
    return {**cls.defaults, **over}


def context(platforms: dict[str, Any], settings: dict[str, Any]) -> ExperimentContext:
    return ExperimentContext(platforms, Limits(1, 256, (0,)), cast(Any, None), "tcg", settings)


# --- shared -------------------------------------------------------------------------------


def test_mem_available_is_read_in_bytes() -> None:
    text = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n"
    assert loadkit.parse_mem_available(text) == 1000 * 1024
    with pytest.raises(BenchError, match="MemAvailable"):
        loadkit.parse_mem_available("MemTotal: 1 kB\n")


def test_only_open_platforms_are_chosen_in_the_order_asked() -> None:
    ctx = context({"docker": "d", "libvirt": "v"}, {})
    assert [n for n, _ in loadkit.chosen_platforms(ctx, "libvirt, native,docker")] == [
        "libvirt",
        "docker",
    ]
    assert loadkit.accel_of("libvirt", ctx) == "tcg"
    assert loadkit.accel_of("docker", ctx) == "host"


def test_background_stress_is_bounded_by_its_own_timeout() -> None:
    argv = loadkit.background("stress-ng --cpu 1", 30)
    assert "--timeout 30s" in argv[-1] and argv[-1].rstrip().endswith("echo started")


def test_every_experiment_is_registered_with_settings_of_known_types() -> None:
    for name in ("density", "elasticity", "isolation"):
        assert registry.make(name).name == name
        assert registry.resolve(name, {}, "t")


# --- density ------------------------------------------------------------------------------


def bounds(**over: Any) -> density.Bounds:
    values = {"budget_bytes": 1000, "deadline_s": 10.0, "total_s": 100.0, "max_instances": 5}
    return density.Bounds(**(values | over))


def test_budget_is_the_smaller_of_the_cap_and_the_share_of_available() -> None:
    assert density.budget_bytes(8192, 1 / 3, 24 * 2**30) == 8192 * MIB
    assert density.budget_bytes(8192, 1 / 3, 3 * 2**30) == 2**30


@pytest.mark.parametrize(
    ("count", "elapsed", "used", "expected"),
    [
        (0, 0.0, 0, None),
        (5, 0.0, 0, "max-instances"),
        (2, 100.0, 0, "deadline"),
        (2, 1.0, 700, "budget"),  # 700 + 350 for the next one would pass 1000
        (3, 1.0, 600, None),  # 600 + 200 fits
    ],
)
def test_stop_reason(count: int, elapsed: float, used: int, expected: str | None) -> None:
    assert density.stop_reason(count, elapsed, used, bounds()) == expected


def test_gvisor_arithmetic() -> None:
    assert density.bytes_per_instance(10 * MIB, 4 * MIB, 3) == 2 * MIB
    assert density.bytes_per_instance(10, 4, 0) is None


def run_density(
    monkeypatch: pytest.MonkeyPatch, platform: FakePlatform, settings: dict[str, Any]
) -> list[ExperimentRecord]:
    available = iter(itertools.count(10 * 2**30, -100 * MIB))  # each reading 100 MiB less
    monkeypatch.setattr(density, "mem_available_bytes", lambda: next(available))
    monkeypatch.setattr(density, "drop_caches", lambda: True)
    defaults = settings_for(density.DensityExperiment, settings)
    return list(density.DensityExperiment().run(context({"docker": platform}, defaults)))


def test_density_ramp_stops_at_the_count_and_removes_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = FakePlatform([0.2, 0.3, 0.4])
    records = run_density(monkeypatch, platform, {"max_containers": 3, "platforms": "docker"})
    startups = [r for r in records if r.metric == "startup-s"]
    assert [(r.repeat, r.value) for r in startups] == [(0, 0.2), (1, 0.3), (2, 0.4)]
    steps = [r for r in records if r.metric == "step-bytes"]
    assert [(r.repeat, r.value) for r in steps] == [(i, 100.0 * MIB) for i in range(3)]
    by = {r.metric: r for r in records if r.metric not in ("startup-s", "step-bytes")}
    assert by["instances"].value == 3
    assert by["stop-reason"].text == "max-instances" and by["stop-reason"].value is None
    assert by["bytes-per-instance"].value is not None and by["bytes-per-instance"].value > 0
    assert by["stop-reason"].detail["max_instances"] == 3
    assert {"budget_mib", "deadline_s"} <= set(by["stop-reason"].detail)
    assert platform.running == [] and len(platform.removed) == 3


@pytest.mark.parametrize(
    ("script", "reason", "started"),
    [
        ([0.2, InstanceTimeout("slow")], "deadline", 1),
        ([0.2, 99.0], "deadline", 2),  # ready, but past the per-instance deadline
        ([PlatformError("no room")], "failed: no room", 0),
    ],
)
def test_density_stop_reasons(
    monkeypatch: pytest.MonkeyPatch, script: list[Any], reason: str, started: int
) -> None:
    platform = FakePlatform(script)
    records = run_density(monkeypatch, platform, {"deadline_s": 10.0, "platforms": "docker"})
    by = {r.metric: r for r in records if r.metric not in ("startup-s", "step-bytes")}
    assert by["stop-reason"].text == reason
    assert by["instances"].value == started
    assert platform.running == []


def test_density_is_cleaned_up_when_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = FakePlatform()
    monkeypatch.setattr(density, "mem_available_bytes", lambda: 10 * 2**30)
    monkeypatch.setattr(density, "drop_caches", lambda: True)
    ctx = context({"docker": platform}, settings_for(density.DensityExperiment, {}))
    ramp = density.DensityExperiment().run(ctx)
    for _ in range(4):  # each instance: its startup-s, then its step-bytes
        next(ramp)
    assert len(platform.running) == 2
    ramp.close()  # what Ctrl-C in the consumer does to the generator
    assert platform.running == []


# --- elasticity ---------------------------------------------------------------------------


def counter(steps: list[tuple[float, float]], until: float, period: float = 0.05) -> list[Any]:
    """(t, cpu seconds) sampled every period for a rate that changes at the given times."""
    samples, value, t = [], 0.0, 0.0
    while t <= until:
        samples.append((t, value))
        rate = [r for at, r in steps if at <= t][-1]
        value += rate * period
        t = round(t + period, 6)
    return samples


@pytest.mark.parametrize(("old", "new"), [(1.0, 2.0), (2.0, 1.0)])
def test_a_rate_step_is_found_where_it_happened(old: float, new: float) -> None:
    samples = counter([(0.0, old), (3.0, new)], until=6.0)
    found = elasticity.step_time(samples, 2.0, elasticity.midpoint(old, new), 0.3, new > old)
    assert found == pytest.approx(1.0, abs=0.06)


def test_no_step_is_none() -> None:
    samples = counter([(0.0, 1.0)], until=3.0)
    assert elasticity.step_time(samples, 1.0, 1.5, 0.3, rising=True) is None
    assert elasticity.step_time([], 0.0, 1.5, 0.3, rising=False) is None


def test_a_step_at_the_change_itself_is_found_at_zero() -> None:
    samples = counter([(0.0, 1.0), (2.0, 2.0)], until=4.0)
    assert elasticity.step_time(samples, 2.0, 1.5, 0.3, rising=True) == pytest.approx(0, abs=0.06)


def test_windowed_rates() -> None:
    rates = elasticity.windowed_rates(counter([(0.0, 2.0)], until=1.0), 0.3)
    assert rates and all(r == pytest.approx(2.0) for _, r in rates)
    assert rates[0][0] == pytest.approx(0.3)


def test_memory_target_keeps_the_guest_kernel_offset() -> None:
    grow = elasticity.Change("grow", Limits(1, 512, (1,)), Limits(2, 768, (0, 1)))
    assert elasticity.memory_target(464, grow) == 720
    assert elasticity.memory_reached(718, 720, grow)
    assert not elasticity.memory_reached(464, 720, grow)


def test_sizes_use_the_last_host_cpus() -> None:
    settings = settings_for(elasticity.ElasticityExperiment, {})
    small, big = elasticity.sizes(settings, (0, 1))
    assert (small.vcpus, small.cpuset, big.vcpus, big.cpuset) == (1, (1,), 2, (0, 1))
    with pytest.raises(BenchError, match="host CPUs"):
        elasticity.sizes(settings, (0,))


def test_elasticity_records_every_metric_each_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake instance whose CPU counter follows its limits: the loop ends on every effect."""
    platform = FakePlatform()
    clock_start = elasticity.time.perf_counter()

    def cpu_reader(_platform: Any, instance: FakeInstance) -> Any:
        state = {"t": clock_start, "value": 0.0}

        def read() -> float:
            now = elasticity.time.perf_counter()
            state["value"] += (now - state["t"]) * instance.limits.vcpus
            state["t"] = now
            return state["value"]

        return read

    monkeypatch.setattr(elasticity, "cpu_seconds", cpu_reader)
    monkeypatch.setattr(elasticity.os, "sched_getaffinity", lambda _pid: {0, 1})
    settings = settings_for(elasticity.ElasticityExperiment, {"repeats": 1, "timeout_s": 20.0})
    records = list(elasticity.ElasticityExperiment().run(context({"docker": platform}, settings)))
    metrics = {(r.metric, r.detail["direction"]) for r in records}
    for metric in ("change-call-s", "cpu-visible-s", "memory-visible-s", "cpu-effective-s"):
        assert {(metric, "grow"), (metric, "shrink")} <= metrics
    assert all(r.value is not None and r.value >= 0 for r in records), records
    memory = next(r for r in records if r.metric == "memory-visible-s")
    assert "memory_effective" in memory.detail
    assert platform.running == []


# --- the VM's vCPU onlining -----------------------------------------------------------------


class FakeAgent:
    def __init__(self, announced_after: int) -> None:
        self.calls = 0
        self.announced_after = announced_after
        self.vcpus = [{"logical-id": 0, "online": True}]

    def command(self, execute: str, timeout: int = 10, **arguments: Any) -> Any:
        self.calls += 1
        if execute == "guest-get-vcpus":
            if self.calls > self.announced_after and len(self.vcpus) == 1:
                self.vcpus.append({"logical-id": 1, "online": False})
            return [dict(v) for v in self.vcpus]
        for wanted in arguments["vcpus"]:
            self.vcpus[wanted["logical-id"]]["online"] = wanted["online"]
        return len(arguments["vcpus"])


def test_hotplugged_vcpus_are_onlined_once_announced() -> None:
    agent = FakeAgent(announced_after=3)
    resize.online_vcpus(agent, 2, deadline=float("inf"))
    assert all(v["online"] for v in agent.vcpus) and len(agent.vcpus) == 2


def test_a_vcpu_never_announced_fails_at_the_deadline() -> None:
    agent = FakeAgent(announced_after=10**9)
    ticks = iter(range(100))
    with pytest.raises(PlatformError, match="1 of 2 vCPUs"):
        resize.online_vcpus(agent, 2, deadline=3, clock=lambda: next(ticks))


def test_cpumap_flags_each_host_cpu() -> None:
    assert resize.cpumap((1, 3), host_cpus=4) == (False, True, False, True)


# --- isolation ----------------------------------------------------------------------------


def test_victims_and_their_neighbours() -> None:
    assert [v.kind for v in isolation.victims("cpu, io")] == ["cpu", "io"]
    with pytest.raises(BenchError, match="unknown victim"):
        isolation.victims("gpu")
    vm = isolation.neighbour_command(isolation.VICTIMS["memory"], Limits(1, 512, (0,)))
    assert vm == "stress-ng --vm 1 --vm-bytes 128M --vm-keep"
    for victim in isolation.VICTIMS.values():  # each names a real workload and metric
        assert victim.metric in load_all()[victim.workload].metrics


def test_placement_is_disjoint_where_the_host_has_room() -> None:
    assert isolation.placement("disjoint", (1,), (0, 1)) == ((0,), "disjoint")
    assert isolation.placement("disjoint", (0, 1), (0, 1)) == ((0, 1), "shared")
    assert isolation.placement("shared", (1,), (0, 1)) == ((1,), "shared")
    with pytest.raises(BenchError, match="placement"):
        isolation.placement("spread", (1,), (0, 1))


def test_alone_and_noisy_alternate() -> None:
    assert [isolation.order(r) for r in range(3)] == [
        (False, True),
        (True, False),
        (False, True),
    ]


def test_isolation_pairs_alone_and_noisy_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    sysbench = (FIXTURES / "sysbench-cpu.txt").read_text()
    platform = FakePlatform()
    started: list[FakeInstance] = []
    real_start = platform.start

    @contextmanager
    def start(spec: InstanceSpec) -> Iterator[FakeInstance]:
        with real_start(spec) as instance:
            instance.outputs = {"sysbench": sysbench, "grep -c stress-ng": "3\n"}
            started.append(instance)
            yield instance

    monkeypatch.setattr(platform, "start", start)
    monkeypatch.setattr(isolation.os, "sched_getaffinity", lambda _pid: {0, 1})
    settings = settings_for(isolation.IsolationExperiment, {"victims": "cpu", "repeats": 2})
    records = list(isolation.IsolationExperiment().run(context({"docker": platform}, settings)))
    assert [(r.metric, r.repeat) for r in records] == [
        ("victim-alone", 0),
        ("victim-with-neighbour", 0),
        ("victim-with-neighbour", 1),
        ("victim-alone", 1),
    ]
    assert all(r.value and r.unit == "events/s" for r in records)
    detail = records[0].detail
    assert detail["victim"] == "cpu" and detail["neighbour"].startswith("stress-ng --cpu 1")
    assert (detail["placement"], detail["victim_cpuset"], detail["neighbour_cpuset"]) == (
        "disjoint",
        "0",
        "1",
    )
    victim, neighbour = started
    assert started[0].limits.cpuset == (0,) and neighbour.limits.cpuset == (1,)
    noisy = [c for c in neighbour.commands if "stress-ng --cpu" in " ".join(c)]
    assert len(noisy) == 2  # started once per noisy run, and stopped after it
    assert sum("pkill stress-ng" in " ".join(c) for c in neighbour.commands) == 2
    assert not any("stress-ng" in " ".join(c) for c in victim.commands)
    assert platform.running == []


# --- the VM's room to grow ----------------------------------------------------------------


def domain_xml(**room: Any) -> str:
    from bench.platforms.domain_xml import DomainSpec, render

    # Only what has no default (other fields come and go with other work on the template).
    required = [f.name for f in dataclasses.fields(DomainSpec) if f.default is dataclasses.MISSING]
    fields: dict[str, Any] = {name: Path(f"/x/{name}") for name in required}
    fields.update(name="vm", run_id="r", domain_type="qemu", network="n", address="10.0.0.2/24")
    fields["limits"] = Limits(1, 512, (1,))
    return render(DomainSpec(**fields, **room))


def test_a_domain_with_room_to_grow_says_current_and_maximum() -> None:
    xml = domain_xml(max_vcpus=2, max_memory_mib=768)
    assert "<vcpu placement='static' current='1'>2</vcpu>" in xml
    assert "<memory unit='MiB'>768</memory>" in xml
    assert "<currentMemory unit='MiB'>512</currentMemory>" in xml
    plain = domain_xml()
    assert "<vcpu placement='static'>1</vcpu>" in plain
    assert "<memory unit='MiB'>512</memory>" in plain


def test_a_maximum_below_the_start_is_refused() -> None:
    with pytest.raises(BenchError, match="below the start"):
        InstanceSpec(Limits(2, 512, (0, 1)), max_vcpus=1)
    with pytest.raises(BenchError, match="below the start"):
        InstanceSpec(Limits(1, 512, (0,)), max_memory_mib=256)


def write_task(proc: Path, tid: int, comm: str, utime: int, stime: int) -> None:
    task = proc / "42" / "task" / str(tid)
    task.mkdir(parents=True, exist_ok=True)
    (task / "comm").write_text(comm + "\n")
    fields = ["S", "1", *["0"] * 9, str(utime), str(stime), "0", "0", *["0"] * 5, "7", "0", "3"]
    (task / "stat").write_text(f"{tid} ({comm}) " + " ".join(fields) + "\n")


def test_vm_cpu_time_counts_vcpu_threads_and_stays_monotonic_after_an_unplug(
    tmp_path: Path,
) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    write_task(tmp_path, 42, "qemu-system-x86", 50 * tick, 0)  # the main loop: not counted
    write_task(tmp_path, 43, "CPU 0/TCG", tick, tick)
    write_task(tmp_path, 44, "CPU 1/TCG", 3 * tick, 0)
    reader = loadkit.VcpuThreads(42, proc=tmp_path)
    assert reader.read() == pytest.approx(5.0)
    shutil.rmtree(tmp_path / "42" / "task" / "44")  # vCPU 1 unplugged: its 3 s stay
    write_task(tmp_path, 43, "CPU 0/TCG", 2 * tick, tick)
    assert reader.read() == pytest.approx(6.0)
    shutil.rmtree(tmp_path / "42")
    assert reader.read() is None


def test_the_sampler_skips_missing_readings() -> None:
    readings = iter([1.0, None, 2.0])
    ticks = itertools.count()
    sampler = elasticity.CpuSampler(lambda: next(readings, None), 0.0, lambda: next(ticks))
    deadline = time.monotonic() + 30  # a sampler that never samples fails, never hangs
    with sampler:
        while len(sampler.snapshot()) < 2:
            assert time.monotonic() < deadline, f"2 readings not taken: {sampler.snapshot()}"
            time.sleep(0.001)
    assert [v for _, v in sampler.snapshot()] == [1.0, 2.0]
