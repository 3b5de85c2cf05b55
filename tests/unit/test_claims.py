"""The claims' verdicts on synthetic runs with known answers, and on the real fixture runs
(which hold no experiment records: every experiment-based claim must say so)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis.claims import CLAIMS, HOW, VERDICTS, ClaimVerdict, assess
from bench.data.results import Event, ExperimentRecord, RunData, Sample, load_run

RUNS = Path(__file__).parents[1] / "fixtures" / "runs"
TCG_RUN = RUNS / "20261123-201342-6f5536"
HOST_RUN = RUNS / "20261123-201332-333c1d"
GIB = 2.0**30
MIB = 2.0**20


def run_of(
    *,
    accel: str = "kvm",
    samples: Iterable[Sample] = (),
    records: Iterable[ExperimentRecord] = (),
    events: Iterable[Event] = (),
) -> RunData:
    """Experiments with records and no end event given end ok, as a finished run's do."""
    meta = {"run_id": "synthetic", "fingerprint": {"accel": {"accel": accel}}}
    records, events = tuple(records), tuple(events)
    ended = {e.data.get("name") for e in events if e.kind == "experiment"}
    events += tuple(
        Event("experiment", f"{name} ended", data={"name": name, "status": "ok"})
        for name in sorted({r.experiment for r in records} - ended)
    )
    return RunData(Path("synthetic"), meta, (), tuple(samples), events, (), records)


def sample(
    workload: str, metric: str, platform: str, value: float, *, unit: str = "", hib: bool = True
) -> Sample:
    return Sample(
        f"r0-{workload}-{platform}",
        0,
        workload,
        "h",
        platform,
        False,
        metric,
        value,
        unit,
        hib,
        0.0,
        1.0,
        "i",
        "",
    )


def series(
    workload: str, metric: str, platform: str, values: Sequence[float], **kw: Any
) -> list[Sample]:
    return [sample(workload, metric, platform, v, **kw) for v in values]


def rec(
    experiment: str,
    platform: str,
    metric: str,
    value: float | None,
    *,
    unit: str = "B",
    repeat: int = 0,
    text: str = "",
    detail: dict[str, Any] | None = None,
) -> ExperimentRecord:
    return ExperimentRecord(
        experiment, platform, metric, value, unit, repeat, text, detail=detail or {}
    )


def repeated(
    experiment: str, platform: str, metric: str, values: Sequence[float], **kw: Any
) -> list[ExperimentRecord]:
    return [rec(experiment, platform, metric, v, repeat=i, **kw) for i, v in enumerate(values)]


def verdict_of(run: RunData, claim: str) -> ClaimVerdict:
    return next(v for v in assess(run) if v.id == claim)


def spread(centre: float, n: int = 6, width: float = 0.01) -> list[float]:
    return [centre * (1 + width * (i - n / 2) / n) for i in range(n)]


# --- every claim, always ---------------------------------------------------------------------


def test_thirteen_claims_in_order_with_the_published_figures() -> None:
    verdicts = assess(run_of())
    assert [v.id for v in verdicts] == [f"C{i}" for i in range(1, 14)]
    assert [v.claim for v in verdicts] == [c.text for c in CLAIMS]
    assert all(v.verdict in VERDICTS for v in verdicts)
    refs = {v.id: v.references for v in verdicts}
    assert any("125 ms" in p.figure for p in refs["C3"])
    assert any("Felter" in p.source for p in refs["C8"])
    assert any("-30%" in p.figure for p in refs["C10"])
    assert refs["C1"] == ()
    assert any("<= 5 s" in p.figure and "Kubernetes" in p.source for p in refs["C12"])


def test_an_empty_run_measures_nothing_and_says_what_to_run() -> None:
    for v in assess(run_of()):
        assert v.verdict == "not measured in this run", v
        assert v.how == HOW[v.id]
        assert v.figures == ()


@pytest.mark.parametrize("path", [TCG_RUN, HOST_RUN], ids=["tcg", "host"])
def test_fixture_runs_without_experiments(path: Path) -> None:
    verdicts = {v.id: v for v in assess(load_run(path))}
    for claim in ("C1", "C2", "C5", "C6", "C7", "C10", "C11", "C12"):
        assert verdicts[claim].verdict == "not measured in this run"
        assert "experiment did not run" in verdicts[claim].reason
        assert verdicts[claim].how.startswith("vcbench run --experiments")
    assert verdicts["C9"].verdict == "not measured in this run"
    assert "--vm-profile default,emulated" in verdicts["C9"].how


def test_fixture_tcg_run_judges_what_its_samples_hold() -> None:
    verdicts = {v.id: v for v in assess(load_run(TCG_RUN))}
    # startup-warm on docker and libvirt, three repeats under TCG: too few for the gate,
    # however far apart the figures lie, with the emulation caveat
    assert verdicts["C3"].verdict == "inconclusive"
    assert "too few repeats" in verdicts["C3"].reason
    assert any("accel=tcg" in c for c in verdicts["C3"].caveats)
    assert any("fewer than 5 repeats" in c for c in verdicts["C3"].caveats)
    # idle-footprint stands in for the memory experiment, and says so
    assert verdicts["C4"].verdict == "inconclusive"
    assert "idle-footprint" in verdicts["C4"].reason
    assert verdicts["C8"].verdict == "not measurable here"
    assert "container rows are measured" in verdicts["C8"].reason
    platforms = {f.platform for f in verdicts["C8"].figures}
    assert platforms == {"docker", "libvirt"}


def test_fixture_host_run_has_no_vm_to_judge() -> None:
    verdicts = {v.id: v for v in assess(load_run(HOST_RUN))}
    assert verdicts["C3"].verdict == "not measured in this run"
    assert verdicts["C4"].verdict == "not measured in this run"
    assert verdicts["C8"].verdict == "not measured in this run"


def test_a_failed_experiment_says_its_error() -> None:
    failed = Event(
        "experiment",
        "density failed",
        data={"name": "density", "status": "failed", "cause": "libvirt went away"},
    )
    v = verdict_of(run_of(events=[failed]), "C6")
    assert v.verdict == "not measured in this run"
    assert "libvirt went away" in v.reason


def test_a_partly_failed_experiment_keeps_its_figures_with_a_caveat() -> None:
    # the experiments' end events say "cause"
    failed = Event("experiment", "x", data={"name": "kernel", "status": "failed", "cause": "boom"})
    records = [
        rec("kernel", p, "uname-r", None, text=t, unit="")
        for p, t in (("native", "6.1"), ("docker", "6.1"), ("libvirt", "5.10"))
    ]
    v = verdict_of(run_of(records=records, events=[failed]), "C1")
    assert v.verdict == "supported"
    assert any("failed part way" in c and "boom" in c for c in v.caveats)


# --- C1 kernel ---------------------------------------------------------------------------------


def kernels(native: str, docker: str, libvirt: str) -> list[ExperimentRecord]:
    found = {"native": native, "docker": docker, "libvirt": libvirt}
    return [rec("kernel", p, "uname-r", None, text=t, unit="") for p, t in found.items() if t]


def test_c1_kernel() -> None:
    assert verdict_of(run_of(records=kernels("6.18", "6.18", "6.1")), "C1").verdict == "supported"
    own = verdict_of(run_of(records=kernels("6.18", "6.1", "6.1")), "C1")
    assert own.verdict == "not supported" and "a different one" in own.reason
    missing = verdict_of(run_of(records=kernels("6.18", "6.18", "")), "C1")
    assert missing.verdict == "not measured in this run" and "libvirt" in missing.reason


# --- C2 image size -------------------------------------------------------------------------------


def sizes(image: float, vm_total: float) -> list[ExperimentRecord]:
    return [
        rec("image-size", "docker", "image-bytes", image),
        rec("image-size", "libvirt", "total-bytes", vm_total),
        rec("image-size", "native", "userland-bytes", image),
    ]


def test_c2_image_size_order_of_magnitude() -> None:
    yes = verdict_of(run_of(records=sizes(80 * MIB, 2 * GIB)), "C2")
    assert yes.verdict == "supported" and "80 MiB" in yes.reason and "2 GiB" in yes.reason
    # the same userland on both sides: the VM adds a kernel and an initramfs, not a GB
    no = verdict_of(run_of(records=sizes(330 * MIB, 420 * MIB)), "C2")
    assert no.verdict == "not supported" and "1.27x" in no.reason
    gone = verdict_of(run_of(records=sizes(80 * MIB, 2 * GIB)[:1]), "C2")
    assert gone.verdict == "not measured in this run"


@pytest.mark.parametrize("image", [0.0, float("nan")], ids=["zero", "nan"])
def test_c2_without_an_image_size_is_inconclusive_not_an_infinite_ratio(image: float) -> None:
    v = verdict_of(run_of(records=sizes(image, 2 * GIB)), "C2")
    assert v.verdict == "inconclusive", v
    assert "no size to compare: the container image" in v.reason
    vm = verdict_of(run_of(records=sizes(80 * MIB, float("nan"))), "C2")
    assert vm.verdict == "inconclusive" and "the VM" in vm.reason


# --- C3 start-up ---------------------------------------------------------------------------------


def startups(docker: float, libvirt: float, n: int = 6) -> list[Sample]:
    out = []
    for workload in ("startup-warm", "startup-cold"):
        for platform, centre in (("docker", docker), ("libvirt", libvirt)):
            out += series(workload, "startup_s", platform, spread(centre, n), unit="s", hib=False)
    return out


def test_c3_startup() -> None:
    yes = verdict_of(run_of(samples=startups(0.3, 4.0)), "C3")
    assert yes.verdict == "supported"
    assert "startup-warm" in yes.reason and "startup-cold" in yes.reason
    metrics = {f.metric for f in yes.figures}
    assert {"startup-warm p50", "startup-warm p95", "startup-cold p50"} <= metrics
    p50 = next(f for f in yes.figures if f.metric == "startup-warm p50" and f.platform == "docker")
    assert p50.low is not None and p50.high is not None and p50.low <= p50.value <= p50.high
    assert not any("accel=tcg" in c for c in yes.caveats)
    same = verdict_of(run_of(samples=startups(0.3, 0.3)), "C3")
    assert same.verdict == "not supported"
    few = verdict_of(run_of(samples=startups(0.3, 4.0, n=4)), "C3")
    assert few.verdict == "inconclusive" and "too few repeats" in few.reason
    assert "(n=4)" in few.key and "[" in few.key
    tcg = verdict_of(run_of(accel="tcg", samples=startups(0.3, 4.0)), "C3")
    assert tcg.verdict == "supported" and "accel=tcg" in tcg.caveats[0]
    warm_only = [s for s in startups(0.3, 4.0) if s.workload == "startup-warm"]
    warm = verdict_of(run_of(samples=warm_only), "C3")
    assert warm.verdict == "supported"
    assert "startup-cold not measured on both docker and libvirt" in warm.caveats
    assert not any("not measured on both" in c for c in yes.caveats)
    docker_only = [s for s in startups(0.3, 4.0) if s.platform == "docker"]
    assert verdict_of(run_of(samples=docker_only), "C3").verdict == "not measured in this run"


# --- C4 memory -----------------------------------------------------------------------------------


def memory(docker: float, libvirt: float, n: int = 6) -> list[ExperimentRecord]:
    out = []
    for metric in ("idle-bytes", "loaded-bytes"):
        out += repeated("memory", "docker", metric, spread(docker, n))
        out += repeated("memory", "libvirt", metric, spread(libvirt, n))
    return out


def test_c4_memory() -> None:
    yes = verdict_of(run_of(records=memory(5 * MIB, 300 * MIB)), "C4")
    assert yes.verdict == "supported" and "memory experiment" in yes.reason
    assert not any("loaded memory not measured" in c for c in yes.caveats)
    no = verdict_of(run_of(records=memory(300 * MIB, 300 * MIB)), "C4")
    assert no.verdict == "not supported"
    tcg = verdict_of(run_of(accel="tcg", records=memory(5 * MIB, 300 * MIB)), "C4")
    assert any("translated-code cache" in c for c in tcg.caveats)


def test_c4_too_few_repeats_is_inconclusive_however_far_apart() -> None:
    v = verdict_of(run_of(records=memory(5 * MIB, 300 * MIB, n=1)), "C4")
    assert v.verdict == "inconclusive" and "too few repeats" in v.reason
    assert any("fewer than 5 repeats" in c for c in v.caveats)
    # five a side: one metric could be judged, but two as a family (Holm) need six
    five = verdict_of(run_of(records=memory(5 * MIB, 300 * MIB, n=5)), "C4")
    assert five.verdict == "inconclusive" and "raise the repeats to 6" in five.reason


def test_c4_from_the_idle_footprint_when_the_experiment_did_not_run() -> None:
    samples = series("idle-footprint", "memory_mib", "docker", spread(1, 5), unit="MiB", hib=False)
    samples += series(
        "idle-footprint", "memory_mib", "libvirt", spread(280, 5), unit="MiB", hib=False
    )
    v = verdict_of(run_of(samples=samples), "C4")
    assert v.verdict == "supported" and "idle-footprint" in v.reason
    assert any("loaded memory not measured" in c for c in v.caveats)
    assert not any("memory_mib counts" in c for c in v.caveats)  # an older run: not recorded
    bases = [
        Event("footprint", "m", data={"platform": p, "memory_basis": b})
        for p, b in (("docker", "cgroup"), ("libvirt", "rss"), ("native", "cgroup"))
    ]
    said = verdict_of(run_of(samples=samples, events=bases), "C4")
    (caveat,) = [c for c in said.caveats if "memory_mib counts" in c]
    assert "docker: cgroup; libvirt: rss" in caveat and "PSS was not readable" in caveat


# --- C5 disk -------------------------------------------------------------------------------------


def test_c5_disk() -> None:
    def disk(docker: float, libvirt: float, n: int = 6) -> list[ExperimentRecord]:
        return (
            repeated("disk-per-instance", "docker", "bytes-after-work", spread(docker, n))
            + repeated("disk-per-instance", "libvirt", "bytes-after-work", spread(libvirt, n))
            + repeated("disk-per-instance", "docker", "bytes-fresh", [4096.0] * n)
        )

    yes = verdict_of(run_of(records=disk(2 * MIB, 60 * MIB)), "C5")
    assert yes.verdict == "supported" and "(n=6)" in yes.key
    no = verdict_of(run_of(records=disk(60 * MIB, 2 * MIB)), "C5")
    assert no.verdict == "not supported" and ": worse (" in no.reason
    few = verdict_of(run_of(records=disk(2 * MIB, 60 * MIB, n=3)), "C5")
    assert few.verdict == "inconclusive"
    only = [r for r in disk(2 * MIB, 60 * MIB) if r.platform == "docker"]
    assert verdict_of(run_of(records=only), "C5").verdict == "not measured in this run"


# --- C6 density ----------------------------------------------------------------------------------


def density(
    docker: tuple[int, float, str], libvirt: tuple[int, float, str], steps: bool = True
) -> list[Any]:
    out: list[ExperimentRecord] = []
    for platform, (count, per, reason) in (("docker", docker), ("libvirt", libvirt)):
        out += repeated("density", platform, "startup-s", spread(0.3, count), unit="s")
        if steps:
            out += repeated("density", platform, "step-bytes", spread(per, count, width=0.2))
        out.append(rec("density", platform, "instances", count, unit="count"))
        out.append(rec("density", platform, "bytes-per-instance", per))
        out.append(rec("density", platform, "stop-reason", None, text=reason, unit=""))
    return out


def test_c6_density_judges_the_memory_each_instance_added() -> None:
    more = density((40, 5 * MIB, "max-instances"), (6, 300 * MIB, "budget"))
    yes = verdict_of(run_of(records=more), "C6")
    assert yes.verdict == "supported" and "40 instances" in yes.reason and "per GiB" in yes.reason
    assert "per instance docker" in yes.key and "(n=40)" in yes.key and "(n=6)" in yes.key
    assert {f.text for f in yes.figures if f.metric == "stop-reason"} == {"max-instances", "budget"}
    step = next(f for f in yes.figures if f.metric == "step-bytes" and f.platform == "docker")
    assert step.low is not None and step.high is not None and step.n == 40
    fewer = density((10, 300 * MIB, "budget"), (10, 5 * MIB, "budget"))
    assert verdict_of(run_of(records=fewer), "C6").verdict == "not supported"
    slow = density((40, 5 * MIB, "max-instances"), (3, 300 * MIB, "deadline"))
    tcg = verdict_of(run_of(accel="tcg", records=slow), "C6")
    assert tcg.verdict == "inconclusive" and "too few repeats" in tcg.reason
    assert any("start-up deadline" in c for c in tcg.caveats)
    # an older run: one average per platform, never a verdict
    old = verdict_of(run_of(records=density(*more_args(), steps=False)), "C6")
    assert old.verdict == "inconclusive"
    assert any("only the ramp's average" in c for c in old.caveats)


def more_args() -> tuple[tuple[int, float, str], tuple[int, float, str]]:
    return (40, 5 * MIB, "max-instances"), (6, 300 * MIB, "budget")


# --- C7 elasticity -------------------------------------------------------------------------------


def test_c7_elasticity() -> None:
    def resize(docker: float, libvirt: float) -> list[ExperimentRecord]:
        out = []
        for metric in ("cpu-visible-s", "cpu-effective-s", "memory-visible-s", "change-call-s"):
            out += repeated("elasticity", "docker", metric, spread(docker, 6), unit="s")
            out += repeated("elasticity", "libvirt", metric, spread(libvirt, 6), unit="s")
        return out

    yes = verdict_of(run_of(records=resize(0.05, 2.0)), "C7")
    assert yes.verdict == "supported" and "cpu-effective-s: container" in yes.reason
    # faster than the VM, but not within a second: only partly "quick"
    slow = verdict_of(run_of(records=resize(1.5, 20.0)), "C7")
    assert slow.verdict == "partly supported" and "not within 1 s" in slow.reason
    only = [r for r in resize(0.05, 2.0) if r.platform == "docker"]
    assert verdict_of(run_of(records=only), "C7").verdict == "not measured in this run"
    assert any("memory change has no effective time" in c for c in yes.caveats)
    assert verdict_of(run_of(records=resize(3.0, 2.0)), "C7").verdict == "not supported"
    tcg = verdict_of(run_of(accel="tcg", records=resize(0.05, 2.0)), "C7")
    assert any("accel=tcg" in c for c in tcg.caveats)


# --- C12 orchestration ---------------------------------------------------------------------------


def orchestrated(swarm_s: float, vm_s: float, n: int = 6) -> list[ExperimentRecord]:
    out = []
    for metric in ("recovery-s", "scale-out-s"):
        out += repeated("orchestration", "docker", metric, spread(swarm_s, n), unit="s")
        out += repeated("orchestration", "libvirt", metric, spread(vm_s, n), unit="s")
    out += repeated("orchestration", "docker", "node-failure-s", spread(15.0, n), unit="s")
    return out


def test_c12_orchestration() -> None:
    yes = verdict_of(run_of(records=orchestrated(1.0, 6.0)), "C12")
    assert yes.verdict == "supported", yes.reason
    assert "recovery-s: swarm" in yes.reason and "Shown, not judged: node-failure-s" in yes.reason
    assert any("Kubernetes is not available here" in c for c in yes.caveats)
    assert any("KubeVirt" in c for c in yes.caveats)
    assert {f.metric for f in yes.figures} >= {"recovery-s", "scale-out-s", "node-failure-s"}
    # faster than the VM, but not in seconds: only partly
    slow = verdict_of(run_of(records=orchestrated(12.0, 60.0)), "C12")
    assert slow.verdict == "partly supported" and "not within 10 s" in slow.reason
    assert verdict_of(run_of(records=orchestrated(6.0, 1.0)), "C12").verdict == "not supported"
    few = verdict_of(run_of(records=orchestrated(1.0, 6.0, n=3)), "C12")
    assert few.verdict == "inconclusive"
    only = [r for r in orchestrated(1.0, 6.0) if r.platform == "docker"]
    assert verdict_of(run_of(records=only), "C12").verdict == "not measured in this run"
    tcg = verdict_of(run_of(accel="tcg", records=orchestrated(1.0, 6.0)), "C12")
    assert any("accel=tcg" in c for c in tcg.caveats)


# --- C8 overhead ---------------------------------------------------------------------------------


def suite(vm_factor: float, docker_factor: float = 1.0, n: int = 6) -> list[Sample]:
    out = []
    for workload, metric, hib, native in (
        ("cpu-sysbench", "events_per_s", True, 3000.0),
        ("memory-read", "mib_per_s", True, 7000.0),
        ("net-sockperf", "latency_p50_us", False, 20.0),
    ):
        for platform, factor in (
            ("native", 1.0),
            ("docker", docker_factor),
            ("libvirt", vm_factor),
        ):
            # `factor` times worse than native, whichever way the metric points
            value = native / factor if hib else native * factor
            out += series(workload, metric, platform, spread(value, n), hib=hib)
    return out


def test_c8_overhead_under_kvm() -> None:
    yes = verdict_of(run_of(samples=suite(2.0)), "C8")
    assert yes.verdict == "supported" and "against native: 3 of 3 as claimed" in yes.reason
    assert "(n=6)" in yes.key
    ratio = next(f for f in yes.figures if f.platform == "libvirt" and "cpu" in f.metric)
    assert ratio.unit == "x native" and ratio.value == pytest.approx(0.5, rel=0.01)
    assert ratio.low is not None and ratio.low <= ratio.value <= (ratio.high or 0)
    assert verdict_of(run_of(samples=suite(1.0)), "C8").verdict == "not supported"
    # as fast as native, from three repeats: undecided, not "no overhead"
    few = verdict_of(run_of(samples=suite(1.0, n=3)), "C8")
    assert few.verdict == "inconclusive" and "3 undecided" in few.reason
    # twice as slow, from three repeats: still no verdict (the old interval fallback said
    # "worse" here, and under A/A noise it did so far more often than 1% of the time)
    slow_few = verdict_of(run_of(samples=suite(2.0, n=3)), "C8")
    assert slow_few.verdict == "inconclusive"


def test_every_verdict_has_a_badge_whose_words_are_the_verdict() -> None:
    from bench.report.claims_view import BADGES

    assert set(BADGES) == set(VERDICTS)


def test_c8_under_tcg_is_not_measurable_but_shows_the_container_rows() -> None:
    v = verdict_of(run_of(accel="tcg", samples=suite(6.0)), "C8")
    assert v.verdict == "not measurable here"
    assert "cpu-sysbench events_per_s x1" in v.reason
    assert "accel=tcg" in v.caveats[0]
    assert v.how == HOW["C8"]


# --- C9 para-virtualisation ----------------------------------------------------------------------


def devices(virtio: float, emulated: float, n: int = 6) -> list[Sample]:
    out = []
    for platform, factor in (("native", 1.0), ("libvirt", virtio), ("libvirt-emulated", emulated)):
        out += series("disk-randread-4k", "iops", platform, spread(70000 / factor, n))
        out += series("net-iperf3", "gbit_per_s", platform, spread(13 / factor, n))
    return out


def test_c9_paravirtualisation() -> None:
    assert verdict_of(run_of(samples=devices(1.5, 4.0)), "C9").verdict == "supported"
    # virtio as fast as native: para-virtualisation wins, but is not slower than the machine
    assert verdict_of(run_of(samples=devices(1.0, 4.0)), "C9").verdict == "partly supported"
    assert verdict_of(run_of(samples=devices(4.0, 4.0)), "C9").verdict == "not supported"
    tcg = verdict_of(run_of(accel="tcg", samples=devices(1.5, 4.0)), "C9")
    assert tcg.verdict == "partly supported" and "TCG" in tcg.reason
    # three repeats: the rank test cannot reach p < 0.01 however far apart the figures lie
    few = verdict_of(run_of(accel="tcg", samples=devices(1.5, 4.0, n=3)), "C9")
    assert few.verdict == "inconclusive" and "0 of 2 as claimed, 2 undecided" in few.reason
    # alike, from three repeats: undecided rather than found alike, so no verdict either way
    close = verdict_of(run_of(accel="tcg", samples=devices(1.5, 1.5, n=3)), "C9")
    assert close.verdict == "inconclusive" and "undecided" in close.reason
    assert any("fewer than 5 repeats" in c for c in close.caveats)
    assert any("accel=tcg" in c for c in close.caveats)
    # alike from six repeats: "no difference" is a finding, and the claim fails
    alike = verdict_of(run_of(accel="tcg", samples=devices(1.5, 1.5)), "C9")
    assert alike.verdict == "not supported"
    absent = verdict_of(
        run_of(samples=[s for s in devices(1.5, 4.0) if s.platform != "libvirt-emulated"]), "C9"
    )
    assert absent.verdict == "not measured in this run"
    assert (
        absent.how == "vcbench run --vm-profile default,emulated (the disk and network workloads)"
    )


# --- C10 isolation -------------------------------------------------------------------------------


def isolation(slowdowns: dict[tuple[str, str], float], n: int = 6) -> list[ExperimentRecord]:
    out = []
    for (victim, platform), loss in slowdowns.items():
        detail = {"victim": victim, "neighbour": "stress-ng"}
        alone = spread(1000.0, n)
        out += repeated("isolation", platform, "victim-alone", alone, unit="ops/s", detail=detail)
        out += repeated(
            "isolation",
            platform,
            "victim-with-neighbour",
            [v * (1 - loss) for v in alone],
            unit="ops/s",
            detail=detail,
        )
    return out


def test_c10_isolation() -> None:
    yes = verdict_of(
        run_of(records=isolation({("memory", "docker"): 0.30, ("memory", "libvirt"): 0.11})), "C10"
    )
    assert yes.verdict == "supported"
    assert "memory: container +30.0%" in yes.reason and "VM +11.0%" in yes.reason
    slow = next(f for f in yes.figures if f.platform == "docker")
    assert slow.metric == "memory slowdown" and slow.value == pytest.approx(0.30)
    mixed = isolation(
        {
            ("memory", "docker"): 0.30,
            ("memory", "libvirt"): 0.11,
            ("cpu", "docker"): 0.05,
            ("cpu", "libvirt"): 0.40,
        }
    )
    assert verdict_of(run_of(records=mixed), "C10").verdict == "partly supported"
    even = isolation({("io", "docker"): 0.2, ("io", "libvirt"): 0.2})
    assert verdict_of(run_of(records=even), "C10").verdict == "not supported"
    few = isolation({("io", "docker"): 0.2, ("io", "libvirt"): 0.2}, n=3)
    assert verdict_of(run_of(records=few), "C10").verdict == "inconclusive"
    tcg = verdict_of(run_of(accel="tcg", records=even), "C10")
    assert any("accel=tcg" in c for c in tcg.caveats)
    one_side = isolation({("io", "docker"): 0.2})
    assert verdict_of(run_of(records=one_side), "C10").verdict == "not measured in this run"


# --- C11 visibility ------------------------------------------------------------------------------


def visibility(docker_nproc: int, docker_mem: float) -> list[ExperimentRecord]:
    out = []
    for platform, nproc, mem in (("docker", docker_nproc, docker_mem), ("libvirt", 1, 0.98 * GIB)):
        out += [
            rec("visibility", platform, "nproc", nproc, unit="count"),
            rec("visibility", platform, "mem-total-bytes", mem),
            rec("visibility", platform, "free-total-bytes", mem),
            rec("visibility", platform, "limit-vcpus", 1, unit="count"),
            rec("visibility", platform, "limit-memory-bytes", GIB),
        ]
    return out


def test_c11_visibility() -> None:
    yes = verdict_of(run_of(records=visibility(1, 24 * GIB)), "C11")
    assert yes.verdict == "supported" and "24 GiB" in yes.reason and "inside the VM" in yes.reason
    assert not yes.caveats
    no = verdict_of(run_of(records=visibility(1, 1 * GIB)), "C11")
    assert no.verdict == "not supported"
    cpus = verdict_of(run_of(records=visibility(2, 1 * GIB)), "C11")
    assert cpus.verdict == "supported"
    # without the VM's view there is nothing to contrast: never supported
    alone = [r for r in visibility(1, 24 * GIB) if r.platform == "docker"]
    assert verdict_of(run_of(records=alone), "C11").verdict == "not measured in this run"


def test_c11_with_a_vm_reading_that_is_not_a_number_is_inconclusive() -> None:
    records = [
        rec(r.experiment, r.platform, r.metric, float("nan"), unit=r.unit)
        if (r.platform, r.metric) == ("libvirt", "mem-total-bytes")
        else r
        for r in visibility(1, 24 * GIB)
    ]
    v = verdict_of(run_of(records=records), "C11")
    assert v.verdict == "inconclusive", v
    assert "libvirt mem-total-bytes" in v.reason


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["native", "docker", "libvirt"]),
            st.sampled_from(["events_per_s", "startup_s"]),
            st.floats(0.01, 1e4),
        ),
        max_size=12,
    ),
    st.sampled_from(["tcg", "kvm", ""]),
)
def test_no_records_no_support_for_experiment_claims(
    rows: list[tuple[str, str, float]], accel: str
) -> None:
    """Whatever the samples, a claim that rests on an experiment is never judged without its
    records, and every verdict is one of the five."""
    samples = [
        sample("cpu-sysbench" if m == "events_per_s" else "startup-warm", m, p, v)
        for p, m, v in rows
    ]
    for v in assess(run_of(accel=accel, samples=samples)):
        assert v.verdict in VERDICTS
        if v.id in ("C1", "C2", "C5", "C6", "C7", "C10", "C11", "C4", "C9", "C12"):
            assert v.verdict in ("not measured in this run", "not measurable here"), v
        if accel == "tcg" and v.id == "C8":
            assert v.verdict in ("not measurable here", "not measured in this run")


# --- exports and the terminal --------------------------------------------------------------------


def test_claims_export_is_a_json_list_of_thirteen_verdicts() -> None:
    from bench.report.export import FORMATS, serialize

    assert "claims" in FORMATS
    data = json.loads(serialize(load_run(TCG_RUN), "claims"))
    assert [d["id"] for d in data] == [f"C{i}" for i in range(1, 14)]
    c3 = data[2]
    assert c3["verdict"] == "inconclusive" and c3["figures"][0]["unit"] == "s"
    assert all(
        set(d) >= {"verdict", "reason", "figures", "caveats", "references", "how"} for d in data
    )


def test_markdown_export_lists_the_claims() -> None:
    from bench.report.export import serialize

    text = serialize(load_run(TCG_RUN), "markdown").decode()
    assert "### Claims" in text
    assert "| C8 VMs carry a real performance overhead" in text
    assert "not measurable here" in text


def test_terminal_summary_has_one_line_per_claim() -> None:
    from bench.report.terminal import claim_lines

    lines = claim_lines(load_run(TCG_RUN))
    assert len(lines) == 14
    assert lines[3].split()[:2] == ["C3", "inconclusive"] and "313 ms [" in lines[3]
    assert "(n=2)" in lines[3]
    assert lines[1].endswith("to measure: vcbench run --experiments kernel")


def test_a_failed_experiment_with_half_its_records_shows_them_and_the_failure() -> None:
    cause = "vm-1 did not print VCBENCH-READY; last lines:\nmount failed"
    failed = Event("experiment", "x", data={"name": "kernel", "status": "failed", "cause": cause})
    v = verdict_of(run_of(records=kernels("6.18", "6.18", ""), events=[failed]), "C1")
    assert v.verdict == "not measured in this run"
    assert v.reason.endswith("failed (vm-1 did not print VCBENCH-READY; last lines)")
    assert {f.platform for f in v.figures} == {"native", "docker"}


def test_figures_are_shown_in_the_unit_that_fits() -> None:
    from bench.analysis.claims import ClaimFigure
    from bench.report.claims_view import figure_cells

    def cells(value: float | None, unit: str, low: float | None = None, **kw: Any) -> Any:
        return figure_cells(ClaimFigure("docker", "m", value, low, low and value, unit, 3, **kw))

    assert cells(317.2 * MIB, "B") == {"value": "317.2", "interval": "", "unit": "MiB"}
    assert cells(2 * GIB, "B", 1.5 * GIB)["interval"] == "[1.5\u20132]"
    assert cells(0.313, "s") == {"value": "313", "interval": "", "unit": "ms"}
    assert cells(0.3, "fraction")["value"] == "30" and cells(0.3, "fraction")["unit"] == "%"
    assert cells(70900.0, "IOPS")["value"] == "70,900"
    assert cells(None, "", text="6.1.0-cloud")["value"] == "6.1.0-cloud"


def test_terminal_summary_says_when_the_gate_is_not_armed() -> None:
    from bench.report.terminal import gate_not_armed, summary_frame

    line = gate_not_armed(summary_frame(load_run(TCG_RUN)))
    assert line.startswith("14 of 18 figures have fewer than 5 repeats a side")
    assert "--repeats 5" in line


# --- C13 the user-space kernel sandbox ----------------------------------------------------------


def sandbox(start: float, calls: float, n: int = 8, accel: str = "kvm") -> list[Sample]:
    """gvisor's start-up and syscall-small-io figures against a VM's (1 s and 0.5 s)."""
    out = []
    for platform, s, c in (("gvisor", start, calls), ("libvirt", 1.0, 0.5), ("docker", 0.3, 0.01)):
        for w in ("startup-warm", "startup-cold"):
            out += series(w, "startup_s", platform, spread(s, n), unit="s", hib=False)
        out += series("syscall-small-io", "seconds", platform, spread(c, n), unit="s", hib=False)
    return out


def test_c13_sandbox_starts_like_a_container_and_pays_per_system_call() -> None:
    yes = verdict_of(run_of(samples=sandbox(0.35, 2.5)), "C13")
    assert yes.verdict == "supported" and "3 of 3 as claimed" in yes.reason
    assert "syscall-small-io gvisor" in yes.key and "(n=8)" in yes.key
    assert {f.platform for f in yes.figures} >= {"gvisor", "libvirt", "docker"}
    # as slow to start as the VM: only the system-call half holds
    half = verdict_of(run_of(samples=sandbox(1.0, 2.5)), "C13")
    assert half.verdict == "partly supported"
    # system calls as cheap as the VM's, start-up as slow: nothing holds
    none = verdict_of(run_of(samples=sandbox(1.0, 0.5)), "C13")
    assert none.verdict == "not supported"
    few = verdict_of(run_of(samples=sandbox(0.35, 2.5, n=3)), "C13")
    assert few.verdict == "inconclusive" and "too few repeats" in few.reason
    tcg = verdict_of(run_of(accel="tcg", samples=sandbox(0.35, 2.5)), "C13")
    assert any("accel=tcg" in c for c in tcg.caveats)
    absent = [s for s in sandbox(0.35, 2.5) if s.platform != "gvisor"]
    gone = verdict_of(run_of(samples=absent), "C13")
    assert gone.verdict == "not measured in this run" and "gvisor" in gone.how


def test_a_ratio_without_an_interval_is_shown_without_one() -> None:
    """A budget can stop a figure at n=1: C8's key then names its ratio, never "[nan, nan]"."""
    from bench.analysis.claims import speed
    from bench.analysis.claims.evidence import Stat

    alone = Stat("net-iperf3", "libvirt", "gbit_per_s", 1.0, 1.0, 1.0, "Gbit/s", 1, 0.455)
    paired = Stat("cpu-sysbench", "libvirt", "events_per_s", 1.0, 0.9, 1.1, "", 6, 0.8, 0.7, 0.9)
    assert speed._worse([alone]).endswith("furthest net-iperf3 x0.455")
    assert "nan" not in speed._tally([alone, paired])
    assert "cpu-sysbench events_per_s x0.8 [0.7, 0.9] n=6" in speed._tally([alone, paired])
