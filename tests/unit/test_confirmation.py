"""What `vcbench run --confirm` measures: the suspects' workloads, each on its suspects'
platforms only, in separate runs with their own seeds, marked so they join no history."""

from __future__ import annotations

import itertools
import math

from bench.core.workload import load_all
from bench.data.check_record import CONFIRMS, FigureCheck, is_confirmation
from bench.platforms.protocol import Limits
from bench.run.confirmation import confirmation_plans
from bench.run.runner import RunPlan


def _suspect(workload: str, platform: str) -> FigureCheck:
    nan = math.nan
    return FigureCheck(workload, "m", platform, "u", True, 0.03, 1.0, 8, 0.0, 0.01, 0.2, 0.001,
                       nan, nan, "suspect", "")  # fmt: skip


def _plan() -> RunPlan:
    every = load_all()
    workloads = tuple(every[n] for n in ("cpu-sysbench", "memory-read", "startup-warm"))
    platforms = ("native", "docker", "libvirt", "libvirt-tuned")
    return RunPlan(
        "20260101-000000-abcdef", "full", workloads, platforms, Limits(1, 256, (0,)), seed=7,
        experiments=(("density", {}),),
    )  # fmt: skip


def test_only_the_suspects_are_measured_again_each_in_a_run_of_its_own() -> None:
    ids = (f"2026010{i}-000000-c0ffee" for i in itertools.count(1))
    suspects = [_suspect("cpu-sysbench", "docker"), _suspect("memory-read", "libvirt-tuned")]
    plans = confirmation_plans(_plan(), suspects, 5, lambda: next(ids))
    assert len(plans) == 5
    seeds = set()
    for replicate, (plan, marker) in enumerate(plans, 1):
        assert [w.name for w in plan.workloads] == ["cpu-sysbench", "memory-read"]
        by_name = {w.name: w.platforms for w in plan.workloads}
        assert by_name == {"cpu-sysbench": ("docker",), "memory-read": ("libvirt",)}
        assert plan.platforms == ("docker", "libvirt-tuned")  # not native, not plain libvirt
        assert plan.experiments == ()
        assert marker == {CONFIRMS: {"run_id": "20260101-000000-abcdef", "replicate": replicate}}
        assert is_confirmation(marker)
        trials = plan.keys()  # the schedule's trial keys
        measured = {(k.workload, k.platform) for k in trials if not k.warmup}
        assert measured == {("cpu-sysbench", "docker"), ("memory-read", "libvirt-tuned")}
        seeds.add(plan.seed)
    assert len(seeds) == 5 and len({p.run_id for p, _ in plans}) == 5


def test_no_suspect_no_run() -> None:
    assert confirmation_plans(_plan(), [], 5, lambda: "x") == []
