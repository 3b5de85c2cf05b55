"""The run's measured samples as frames, and what its plan names: the one job every table
and chart of the run page starts from (which samples, which platforms in which order, which
workloads, which acceleration)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from bench.analysis import stats
from bench.core.platform_names import VM, base_of, platform_key
from bench.data.results import RunData
from bench.data.run_meta import measured_frame
from bench.report import adaptive_view

BASELINE: Final = "native"


def workload_frame(run: RunData) -> pd.DataFrame:
    """The samples that count (run_meta.counts), as every table and chart reads them."""
    return measured_frame(run)


def finite_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """The samples a chart can draw: values that are numbers."""
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    kept: pd.DataFrame = frame.loc[np.isfinite(values)].reset_index(drop=True)
    return kept


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def summarize_run(run: RunData, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(stats.SUMMARY_COLUMNS))
    table = stats.summarize(frame, baseline=BASELINE, min_effects=run.run_meta.min_effects)
    return adaptive_view.overlay(run, table)  # an adaptive run: the verdicts of its looks


def plan_of(run: RunData) -> dict[str, Any]:
    return dict(run.run_meta.plan)


def plan_workloads(run: RunData) -> list[dict[str, Any]]:
    return [dict(w) for w in run.run_meta.workloads if "name" in w]


def run_platforms(run: RunData, frame: pd.DataFrame) -> list[str]:
    """The plan's platforms and any the samples name besides: native first, then the one
    platform order (docker, libvirt, libvirt-tuned, libvirt-emulated)."""
    named = list(run.run_meta.platforms)
    seen = [*named, *frame["platform"].astype(str)]
    return sorted(set(seen), key=lambda p: (p != BASELINE, platform_key(p)))


def vm_accel(run: RunData, platforms: Sequence[str]) -> str:
    """The accel the run's VMs used, or "none" when none of these platforms is a VM."""
    return run.run_meta.vm_accel(platforms)


def workload_order(run: RunData, frame: pd.DataFrame) -> list[str]:
    planned = [str(w["name"]) for w in plan_workloads(run)]
    return list(dict.fromkeys([*planned, *frame["workload"].astype(str)]))


def platform_tags(frame: pd.DataFrame, platforms: list[str], accel: str) -> dict[str, str]:
    """What runs a platform's figures where that changes what they mean, for its column's
    head: the VM's TCG emulation, the sandbox's runsc platform (its samples' accel)."""
    tags = {p: "TCG emulation" for p in platforms if base_of(p) == VM and accel == "tcg"}
    for platform in platforms:
        found = set(frame.loc[frame["platform"] == platform, "accel"].dropna().astype(str))
        runsc = sorted(a for a in found if a.startswith("runsc-"))
        if runsc:
            tags[platform] = ", ".join(a.replace("-", " ") for a in runsc)
    return tags
