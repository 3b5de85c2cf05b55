"""The run page's fact tables from run.json: the header rows, the fingerprint flattened, the
plan's workloads and the event log."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bench.data.results import RunData
from bench.report.run_frames import plan_of, plan_workloads


def _when(meta: Mapping[str, Any]) -> str:
    created = meta.get("created")
    if isinstance(created, int | float):
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created))
    match = re.match(r"(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)", str(meta.get("run_id", "")))
    return "{}-{}-{} {}:{}".format(*match.groups()) if match else "unknown"


def limits_text(limits: Mapping[str, Any]) -> str:
    if not limits:
        return "none"
    parts = []
    if limits.get("vcpus"):
        parts.append(f"{limits['vcpus']} vCPU")
    if limits.get("memory_mib"):
        parts.append(f"{limits['memory_mib']} MiB")
    if limits.get("cpuset"):
        parts.append(f"pinned to CPU {limits['cpuset']}")
    return ", ".join(parts) or "none"


def header_rows(run: RunData, platforms: Sequence[str], accel: str) -> list[tuple[str, str]]:
    fp = run.run_meta.fingerprint
    plan = plan_of(run)
    cpu = fp.get("cpu", {}) if isinstance(fp.get("cpu"), dict) else {}
    git = fp.get("git", {}) if isinstance(fp.get("git"), dict) else {}
    done = [t for t in run.trials if not t.warmup]
    failed = sum(t.status == "failed" for t in run.trials)
    rows = [
        ("host", f"{fp.get('hostname', '?')} ({fp.get('arch', '?')}, kernel"
                 f" {fp.get('host_kernel', '?')})"),
        ("CPU", f"{cpu.get('model', '?')}, {cpu.get('usable', cpu.get('count', '?'))} usable"),
        ("date", _when(run.meta)),
        ("platforms", ", ".join(platforms) or "none"),
        ("VM acceleration", accel if accel != "none" else "no VM in this run"),
        ("limits", limits_text(plan.get("limits") or fp.get("limits") or {})),
        ("suite", f"{plan.get('suite', '?')}, seed {plan.get('seed', '?')}"),
        ("trials", f"{len(run.trials)} recorded ({len(done)} measured, {failed} failed)"
                   f" of {plan.get('trials', '?')} planned"),
        ("vcbench", f"{fp.get('vcbench', '?')}, commit {str(git.get('commit', '?'))[:12]}"
                    + (" (dirty)" if git.get("dirty") in ("yes", True) else "")),
    ]  # fmt: skip
    return rows


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, Mapping):
        out: list[tuple[str, str]] = []
        for key in data:
            out.extend(flatten(data[key], f"{prefix}{key}" if not prefix else f"{prefix} / {key}"))
        return out
    if isinstance(data, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in data):
            return [(prefix, ", ".join(map(str, data)) or "-")]
        return [row for i, v in enumerate(data) for row in flatten(v, f"{prefix} / {i}")]
    return [(prefix, "-" if data is None else str(data))]


def workload_plan_rows(run: RunData) -> list[dict[str, str]]:
    out = []
    for w in plan_workloads(run):
        out.append(
            {
                "name": str(w["name"]),
                "kind": str(w.get("kind", "command")),
                "duration": f"{w.get('duration', '?')} s",
                "repeats": f"{w.get('repeats', '?')} + {w.get('warmup', 0)} warm-up",
                "file": f"{w['file_size_mib']} MiB" if w.get("file_size_mib") else "-",
                "platforms": ", ".join(map(str, w.get("platforms", []))),
                "metrics": ", ".join(map(str, (w.get("metrics") or {}).keys())),
                "hash": str(w.get("hash", "-")),
            }
        )
    return out


def event_rows(run: RunData) -> list[dict[str, str]]:
    return [
        {
            "when": time.strftime("%H:%M:%S", time.gmtime(e.at)) if e.at else "-",
            "kind": e.kind,
            "message": e.message,
            "advice": e.advice,
        }
        for e in run.events
    ]
