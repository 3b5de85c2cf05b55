"""What run.json says, read the same way everywhere: a run's name, date and host, whether
two runs measured the same thing, the samples a comparison may use, and the minimum effects
a run's plan set. Pure: run data in, plain values out."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from bench.data.results import RunData, samples_frame

# wall_s is the runner's own clock around a trial (start-up and teardown included): not a
# figure of the workload, so no table, comparison or claim judges it.
EXCLUDED_METRICS: Final = frozenset({"wall_s"})
# The facts that change what a figure means: (label, path into run.json). Two runs that differ
# in any of them measure different things, so a "regression" between them would be a lie.
COMPARED_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("accel", ("fingerprint", "accel", "accel")),
    ("cpu model", ("fingerprint", "cpu", "model")),
    ("host kernel", ("fingerprint", "host_kernel")),
    ("rootfs digest", ("fingerprint", "rootfs_digest")),
)
NO_VM: Final = "none"  # fingerprint accel of a run without the libvirt platform


@dataclass(frozen=True)
class RunInfo:
    """What names a run to a reader: id, date, host, accel, suite."""

    run_id: str
    created: float  # unix seconds; 0 when run.json lacks it
    host: str
    accel: str
    suite: str

    @property
    def date(self) -> str:
        return format_date(self.created)


# --- run.json access ---------------------------------------------------------------------


def meta_value(meta: Mapping[str, Any], path: Sequence[str]) -> Any:
    """run.json[path[0]][path[1]]...; None where any step is missing or not a mapping."""
    node: Any = meta
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def run_info(run: RunData) -> RunInfo:
    created = run.meta.get("created")
    return RunInfo(
        run_id=run.run_id,
        created=float(created) if isinstance(created, int | float) else 0.0,
        host=str(meta_value(run.meta, ("fingerprint", "hostname")) or "unknown"),
        accel=str(meta_value(run.meta, ("fingerprint", "accel", "accel")) or "unknown"),
        suite=str(meta_value(run.meta, ("plan", "suite")) or "-"),
    )


def format_date(created: float) -> str:
    """UTC, so that two hosts in two time zones sort and read the same way."""
    if created <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created))


def _workload_hashes(meta: Mapping[str, Any]) -> dict[str, str]:
    workloads = meta_value(meta, ("plan", "workloads")) or []
    return {
        str(w.get("name")): str(w.get("hash"))
        for w in (workloads if isinstance(workloads, list) else [])
        if isinstance(w, Mapping)
    }


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "-"
    text = str(value)
    # Digests and hashes: 12 hex digits tell them apart and keep the line readable.
    return text[:12] if len(text) > 16 and all(c in "0123456789abcdef" for c in text) else text


# --- comparability -----------------------------------------------------------------------


def check_comparable(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[str]:
    """Every field in which the runs differ, as "<field> <a> != <b>"; empty when comparable.

    Fields: accel, CPU model, host kernel, rootfs digest, each resource limit, and the
    definition hash of every workload the two runs share (a workload only one run has is
    simply not compared).
    """
    found: list[str] = []
    for label, path in COMPARED_FIELDS:
        va, vb = meta_value(meta_a, path), meta_value(meta_b, path)
        # accel "none": that run measured no VM, so there is no VM figure to misread; the
        # per-figure accel check in stats.compare still guards every sample.
        if label == "accel" and NO_VM in (va, vb):
            continue
        if va != vb:
            found.append(f"{label} {_shown(va)} != {_shown(vb)}")
    found.extend(_limit_differences(meta_a, meta_b))
    hashes_a, hashes_b = _workload_hashes(meta_a), _workload_hashes(meta_b)
    for name, hash_a in hashes_a.items():
        hash_b = hashes_b.get(name)
        if hash_b is not None and hash_a != hash_b:
            found.append(f"workload {name} hash {_shown(hash_a)} != {_shown(hash_b)}")
    return found


def _limits(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    found = meta_value(meta, ("fingerprint", "limits"))
    if not isinstance(found, Mapping):  # older fingerprints: the plan holds them too
        found = meta_value(meta, ("plan", "limits"))
    return found if isinstance(found, Mapping) else {}


def _limit_differences(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[str]:
    la, lb = _limits(meta_a), _limits(meta_b)
    keys = list(dict.fromkeys([*la, *lb]))
    return [
        f"limits {k} {_shown(la.get(k))} != {_shown(lb.get(k))}"
        for k in keys
        if la.get(k) != lb.get(k)
    ]


# --- the samples and settings a comparison reads ---------------------------------------


def measured_frame(run: RunData) -> pd.DataFrame:
    """The samples a comparison may use: workload metrics of ok, measured (not warm-up) trials."""
    frame: pd.DataFrame = samples_frame(run)
    if frame.empty:
        return frame
    keep = (
        (frame["origin"] == "workload")
        & ~frame["warmup"].astype(bool)
        & (frame["status"] == "ok")
        & ~frame["metric"].isin(list(EXCLUDED_METRICS))
    )
    return frame.loc[keep].reset_index(drop=True)


def min_effects(meta: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """The per-metric minimum effects a run's plan set (a workload TOML's `min_effect`)."""
    found: dict[tuple[str, str], float] = {}
    plan = meta.get("plan") if isinstance(meta, Mapping) else None
    workloads = plan.get("workloads") if isinstance(plan, Mapping) else None
    for w in workloads if isinstance(workloads, list) else []:
        metrics = w.get("metrics") if isinstance(w, Mapping) else None
        for metric, spec in (metrics or {}).items():
            if isinstance(spec, Mapping) and spec.get("min_effect"):
                found[(str(w.get("name")), str(metric))] = float(spec["min_effect"])
    return found
