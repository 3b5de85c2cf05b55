"""What run.json says, parsed once: a run's name, date and host, the accel its VMs used, its
plan, limits and gate policy (RunMeta); whether two runs measured the same thing; the samples
that count; the minimum effects a run's plan set. Pure: run data in, plain values out.

Every reader (claims, report, export, compare, history) reads RunMeta, never run.json's
dicts: the accel in particular is derived here and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from bench.core.platform_names import VM, base_of
from bench.core.workload import WALL_METRIC

if TYPE_CHECKING:
    from bench.data.results import RunData, Sample

# wall_s is the runner's own clock around a trial (start-up and teardown included): not a
# figure of the workload, so no table, comparison or claim judges it.
EXCLUDED_METRICS: Final = frozenset({WALL_METRIC})
# The facts that change what a figure means: (label, path into run.json). Two runs that differ
# in any of them measure different things, so a "regression" between them would be a lie.
# accel is compared through RunMeta (the accel the run used), not this path.
COMPARED_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("cpu model", ("fingerprint", "cpu", "model")),
    ("host kernel", ("fingerprint", "host_kernel")),
    ("rootfs digest", ("fingerprint", "rootfs_digest")),
)
NO_VM: Final = "none"  # the accel of a run without the libvirt platform
UNKNOWN: Final = "unknown"
FORCED: Final = ("kvm", "tcg")  # --accel values that name the accel itself (not "auto")


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


@dataclass(frozen=True)
class RunMeta:
    """run.json, typed: built once when a run is loaded (RunData.run_meta).

    `accel` is the accel the run's VMs used ("kvm" or "tcg"), "none" when no VM ran and
    "unknown" when nothing says; never what the host could have done. `policy` is the gate
    policy the run recorded (empty in runs written before it was recorded).
    """

    schema_version: int
    run_id: str
    created: float
    host: str
    suite: str
    platforms: tuple[str, ...]
    accel: str
    accel_reason: str
    accel_asked: str  # --accel as given: kvm, tcg or auto ("" in older runs)
    limits: Mapping[str, Any]
    workloads: tuple[Mapping[str, Any], ...]
    min_effects: Mapping[tuple[str, str], float]
    policy: Mapping[str, float]
    fingerprint: Mapping[str, Any] = field(repr=False)
    plan: Mapping[str, Any] = field(repr=False)

    @property
    def tcg(self) -> bool:
        return self.accel == "tcg"

    @property
    def info(self) -> RunInfo:
        return RunInfo(self.run_id, self.created, self.host, self.accel, self.suite)

    def vm_accel(self, platforms: Iterable[str]) -> str:
        """The accel, or "none" when none of these platforms is a VM."""
        return self.accel if any(base_of(p) == VM for p in platforms) else NO_VM


def parse_meta(
    meta: Mapping[str, Any], fallback_id: str = "", vm_accels: Iterable[str] = ()
) -> RunMeta:
    """RunMeta from run.json's dict. `vm_accels`: what the run's VM trials and records say,
    read only where run.json names no accel (runs older than the fingerprint's accel)."""
    plan = meta_value(meta, ("plan",))
    plan = plan if isinstance(plan, Mapping) else {}
    fingerprint = meta_value(meta, ("fingerprint",))
    fingerprint = fingerprint if isinstance(fingerprint, Mapping) else {}
    created = meta.get("created")
    accel, reason = _used_accel(plan, fingerprint, vm_accels)
    workloads = plan.get("workloads")
    policy = meta.get("policy")
    version = meta.get("schema_version")
    return RunMeta(
        schema_version=version if isinstance(version, int) else 0,
        run_id=str(meta.get("run_id") or fallback_id),
        created=float(created) if isinstance(created, int | float) else 0.0,
        host=str(fingerprint.get("hostname") or UNKNOWN),
        suite=str(plan.get("suite") or "-"),
        platforms=tuple(str(p) for p in plan.get("platforms") or ()),
        accel=accel,
        accel_reason=reason,
        accel_asked=str(plan.get("accel") or ""),
        limits=_limits(meta),
        workloads=tuple(
            w for w in (workloads if isinstance(workloads, list) else []) if isinstance(w, Mapping)
        ),
        min_effects=min_effects(meta),
        policy={
            str(k): float(v)
            for k, v in (policy.items() if isinstance(policy, Mapping) else ())
            if isinstance(v, int | float)
        },
        fingerprint=fingerprint,
        plan=plan,
    )


def _used_accel(
    plan: Mapping[str, Any], fingerprint: Mapping[str, Any], vm_accels: Iterable[str]
) -> tuple[str, str]:
    """The accel the VMs ran under, and why. The fingerprint records it (schema 2); runs
    written before recorded what detection found, so a forced --accel wins over it there."""
    node = fingerprint.get("accel")
    recorded = node.get("accel") if isinstance(node, Mapping) else node
    reason = str(node.get("reason", "")) if isinstance(node, Mapping) else ""
    asked = plan.get("accel")
    if recorded == NO_VM:
        return NO_VM, reason
    if asked in FORCED and recorded != asked:
        return str(asked), f"asked with --accel {asked}"
    if recorded in FORCED:
        return str(recorded), reason
    seen = {a for a in vm_accels if a in FORCED}
    if len(seen) == 1:
        return seen.pop(), "what the run's VM trials record"
    return UNKNOWN, reason


def run_accels(trials: Iterable[Any], records: Iterable[Any]) -> list[str]:
    """The accels the run's VM trials and VM experiment records name."""
    return [x.accel for x in (*trials, *records) if base_of(x.platform) == VM and x.accel]


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
    return run.run_meta.info


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

    Fields: the accel the VMs used, CPU model, host kernel, rootfs digest, each resource
    limit, and the definition hash of every workload the two runs share (a workload only one
    run has is simply not compared).
    """
    found: list[str] = []
    accel_a, accel_b = parse_meta(meta_a).accel, parse_meta(meta_b).accel
    # accel "none": that run measured no VM, so there is no VM figure to misread; the
    # per-figure accel check in stats.compare still guards every sample.
    if NO_VM not in (accel_a, accel_b) and accel_a != accel_b:
        found.append(f"accel {accel_a} != {accel_b}")
    for label, path in COMPARED_FIELDS:
        va, vb = meta_value(meta_a, path), meta_value(meta_b, path)
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


def counts(sample: Sample) -> bool:
    """Whether a sample is a figure of the run: a workload metric of an ok, measured (not
    warm-up) trial. The one rule every table, claim, comparison and export reads."""
    return (
        sample.origin == "workload"
        and not sample.warmup
        and sample.status == "ok"
        and sample.metric not in EXCLUDED_METRICS
    )


def counted_samples(run: RunData) -> list[Sample]:
    return [s for s in run.samples if counts(s)]


def measured_frame(run: RunData) -> pd.DataFrame:
    """The samples that count (see `counts`), as the statistics' frame."""
    from bench.data.results import SAMPLE_COLUMNS  # run.json's reader imports this module

    # vars(), not dataclasses.asdict: asdict deep-copies every field, 20x slower at 100k rows
    return pd.DataFrame([vars(s) for s in counted_samples(run)], columns=list(SAMPLE_COLUMNS))


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
