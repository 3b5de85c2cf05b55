"""The run page's resources table: per workload and platform, the instance's CPU and memory
and the host's CPU, from the collectors' per-trial summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from bench.data.results import RunData

RESOURCE_METRICS: Final = {
    "cpu": ("cgroup.cpu_s.mean", "qemu.cpu_s.mean", "procs.cpu_s.mean"),
    "memory": ("cgroup.mem_bytes.mean", "qemu.pss_bytes.mean", "qemu.rss_bytes.mean"),
    "host": ("host.cpu_s.mean",),
}
MIB: Final = 1024.0 * 1024.0


def resource_rows(run: RunData, platforms: Sequence[str]) -> list[dict[str, Any]]:
    """Per workload and platform: the instance's CPU and memory and the host's CPU, medians
    over the measured trials of the collectors' per-trial means."""
    wanted = {m for names in RESOURCE_METRICS.values() for m in names}
    values: dict[tuple[str, str, str], list[float]] = {}
    for s in run.samples:
        if s.origin == "collector" and not s.warmup and s.metric in wanted:
            values.setdefault((s.workload, s.platform, s.metric), []).append(s.value)
    if not values:
        return []
    rows = []
    for workload in dict.fromkeys(w for w, _, _ in values):
        cells = []
        for platform in platforms:
            cells.append(
                {
                    "cpu": _first(values, workload, platform, RESOURCE_METRICS["cpu"], 1.0),
                    "memory": _first(values, workload, platform, RESOURCE_METRICS["memory"], MIB),
                    "host": _first(values, workload, platform, RESOURCE_METRICS["host"], 1.0),
                }
            )
        rows.append({"workload": workload, "cells": cells})
    return rows


def _first(
    values: Mapping[tuple[str, str, str], list[float]],
    workload: str,
    platform: str,
    metrics: Sequence[str],
    scale: float,
) -> str:
    for metric in metrics:
        found = values.get((workload, platform, metric))
        if found:
            value = float(np.median(found)) / scale
            # a VM's 1,034 MiB, not 1.03e+03
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return ""
