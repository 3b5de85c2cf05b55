"""render_run() on a full-size run: about 100,000 samples (12 workloads x 3 platforms x 70
rounds, each trial with its workload metrics and the collectors' ~38 summaries, as real
trials have), plus the time series of the plotted trials.

Target: under 2 s. The statistics take a fraction of it; the rest is matplotlib drawing the
~26 charts, which does not grow with the number of samples (dots are thinned past
charts.MAX_DOTS, series past charts.MAX_POINTS). The assert is only a sanity bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.data.results import Event, RunData, Sample, Trial
from bench.report.render import render_run
from bench.report.time_series import Reading, series_trials

PLATFORMS = ("native", "docker", "libvirt")
ROUNDS = 70
COMMANDS = [f"w{i:02d}" for i in range(10)]
COLLECTED = [
    f"{source}.{name}.{stat}"
    for source, name in (
        [("host", n) for n in ("cpu_s", "mem_used_bytes", "disk_read_bytes", "disk_write_bytes")]
        + [("cgroup", n) for n in ("cpu_s", "mem_bytes", "anon_bytes", "file_bytes")]
        + [("qemu", n) for n in ("cpu_s", "rss_bytes", "pss_bytes", "uss_bytes")]
        + [("libvirt", n) for n in ("cpu_s", "vcpu_s", "vcpu_delay_s")]
        + [("procs", n) for n in ("cpu_s", "rss_bytes")]
        + [("extra", f"f{i}") for i in range(2)]
    )
    for stat in ("mean", "peak")
]  # 38 per trial


def metrics_of(kind: str) -> dict[str, tuple[str, bool]]:
    if kind == "startup":
        names = ("startup_s", "create_to_running_s", "running_to_ready_s")
        return {n: ("s", False) for n in (*names, "guest_kernel_s", "guest_init_s")}
    if kind == "idle":
        return {"memory_mib": ("MiB", False), "cpu_pct": ("% of a core", False)}
    return {"ops_per_s": ("ops/s", True), "latency_us": ("us", False)}


def workload_plan(name: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"synthetic {kind} workload",
        "kind": kind,
        "command": ["tool", "--time={duration}", "--threads={vcpus}"] if kind == "command" else [],
        "parser": "tool" if kind == "command" else None,
        "duration": 10,
        "warmup": 1,
        "repeats": ROUNDS,
        "file_size_mib": None,
        "metrics": {
            m: {"unit": u, "higher_is_better": h, "min_effect": None}
            for m, (u, h) in metrics_of(kind).items()
        },
        "platforms": list(PLATFORMS),
        "method": "synthetic: {duration} s",
        "hash": f"h-{name}",
    }


def build_run() -> tuple[RunData, dict[str, list[Reading]]]:
    rng = np.random.default_rng(0)
    kinds = {**dict.fromkeys(COMMANDS, "command"), "startup-warm": "startup", "idle": "idle"}
    trials: list[Trial] = []
    samples: list[Sample] = []
    for round_ in range(ROUNDS):
        for name, kind in kinds.items():
            for p, platform in enumerate(PLATFORMS):
                accel = "kvm" if platform == "libvirt" else "host"
                trial = Trial(
                    f"r{round_}-{name}-{platform}", round_, name, f"h-{name}", platform,
                    False, "ok", 1e9 + round_, 1e9 + round_ + 10, f"i-{platform}", accel,
                    raw=(f"raw/r{round_}-{name}-{platform}.stdout",),
                )  # fmt: skip
                trials.append(trial)
                for metric, (unit, higher) in metrics_of(kind).items():
                    if metric.startswith("guest_") and platform != "libvirt":
                        continue
                    value = float(rng.normal(100 * (1 + 0.1 * p), 3))
                    samples.append(Sample.of(trial, metric, value, unit, higher))
                for metric in COLLECTED:
                    unit = "cores" if "cpu" in metric else "B"
                    samples.append(
                        Sample.of(trial, metric, float(rng.random()), unit, False, "collector")
                    )
    plan = {
        "suite": "synthetic", "platforms": list(PLATFORMS), "seed": 1, "fresh": False,
        "accel": "auto", "sample_hz": 10.0, "trials": len(trials),
        "limits": {"vcpus": 2, "memory_mib": 2048, "cpuset": "0-1"},
        "workloads": [workload_plan(n, k) for n, k in kinds.items()],
    }  # fmt: skip
    meta = {
        "schema_version": 1, "run_id": "20990101-000000-abcdef", "created": 4.1e9,
        "plan": plan,
        "fingerprint": {"hostname": "perf", "accel": {"accel": "kvm", "reason": "ok"}},
    }  # fmt: skip
    finished = Event("finished", "the schedule is complete", at=4.1e9)
    run = RunData(Path("synthetic"), meta, tuple(trials), tuple(samples), (finished,), ())
    series: dict[str, list[Reading]] = {}
    for per in series_trials(run).values():
        for platform, tid in per.items():
            source = "qemu" if platform == "libvirt" else "cgroup"
            memory = "rss_bytes" if platform == "libvirt" else "mem_bytes"
            series[tid] = [
                Reading(i / 10, source, {"cpu_s": i / 10 * 0.9, memory: 3e8 + i * 1e5})
                for i in range(100)
            ]
    return run, series


@pytest.fixture(scope="module")
def synthetic() -> tuple[RunData, dict[str, list[Reading]]]:
    return build_run()


def test_render_100k_samples(benchmark: Any, synthetic: tuple[RunData, Any]) -> None:
    run, series = synthetic
    assert len(run.samples) >= 100_000
    html = benchmark.pedantic(
        render_run, args=(run,), kwargs={"series": series}, rounds=3, iterations=1
    )
    assert html.count('<svg class="chart"') == 12 + 1 + 12  # dots, phases, series
    assert benchmark.stats["mean"] < 10.0  # sanity bound; the goal is < 2 s
