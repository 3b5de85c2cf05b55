"""The run plan's table: an adaptive run says the range its looks planned, not the workload
file's repeats it did not follow, and every run says the repeats each column made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.analysis import sequential
from bench.data.results import RunData, Trial
from bench.report.run_facts import header_rows, repeats_made, workload_plan_rows


def _trial(n: int, platform: str, *, warmup: bool = False, status: str = "ok") -> Trial:
    return Trial(
        f"r{n}-w-{platform}{'-warm' if warmup else ''}", n, "w", "h", platform, warmup,
        status, 0.0, 1.0, "i", "tcg",  # type: ignore[arg-type]
    )  # fmt: skip


def _run(trials: list[Trial], adaptive: bool) -> RunData:
    plan: dict[str, Any] = {
        "platforms": ["native", "docker", "libvirt"],
        "trials": 30,
        "workloads": [{"name": "w", "repeats": 8, "warmup": 1, "platforms": ["native"]}],
    }
    if adaptive:
        plan["adaptive"] = {"design": sequential.Design(5, 12).to_json(), "budget_s": 60.0}
    meta = {"schema_version": 1, "run_id": "20261207-000000-abcdef", "plan": plan}
    return RunData(Path("/nonexistent"), meta, tuple(trials), (), (), ())


TRIALS = [
    *(_trial(i, "native") for i in range(6)),
    *(_trial(i, "docker") for i in range(6)),
    _trial(0, "docker", warmup=True),
    _trial(6, "docker", status="failed"),
    *(_trial(i, "libvirt") for i in range(5)),
]


def test_repeats_made_count_measured_trials_only() -> None:
    made = repeats_made(_run(TRIALS, adaptive=False))
    assert made == {("w", "native"): 6, ("w", "docker"): 6, ("w", "libvirt"): 5}


def test_an_adaptive_run_plans_its_looks_and_shows_each_column_made() -> None:
    (row,) = workload_plan_rows(_run(TRIALS, adaptive=True))
    assert row["repeats"] == "adaptive, looks at n=5-12 + 1 warm-up"
    assert row["made"] == "native 6, docker 6, libvirt 5"
    (fixed,) = workload_plan_rows(_run(TRIALS, adaptive=False))
    assert fixed["repeats"] == "8 + 1 warm-up"


def test_equal_columns_read_as_one_count_and_adaptive_trials_are_a_ceiling() -> None:
    run = _run([t for t in TRIALS if t.platform != "libvirt"], adaptive=True)
    (row,) = workload_plan_rows(run)
    assert row["made"] == "6 each"
    trials = dict(header_rows(run, ["native", "docker"], "tcg"))["trials"]
    assert trials.endswith("of at most 30 planned")
