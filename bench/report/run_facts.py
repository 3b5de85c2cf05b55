"""The run page's fact tables from run.json: the header rows, the fingerprint flattened, the
plan's workloads and the event log."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bench.analysis.adaptive_run import design_of
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
    design = design_of(run)
    planned = f"at most {plan.get('trials', '?')}" if design else f"{plan.get('trials', '?')}"
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
                   f" of {planned} planned"),
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


def repeats_made(run: RunData) -> dict[tuple[str, str], int]:
    """(workload, platform) -> the measured repeats the run recorded (warm-ups and failed
    trials not counted): what every figure of the pair rests on."""
    measured = (t for t in run.trials if not t.warmup and t.status == "ok")
    return Counter((t.workload, t.platform) for t in measured)


def _made_text(name: str, made: Mapping[tuple[str, str], int], ran: Sequence[str]) -> str:
    counts = {p: made.get((name, p), 0) for p in ran}
    if not counts:
        return "-"
    if len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} each"
    return ", ".join(f"{p} {n}" for p, n in counts.items())


def workload_plan_rows(run: RunData) -> list[dict[str, str]]:
    """The plan's workloads, each with the repeats it planned (an adaptive run's range, not
    the workload file's count, which it does not follow) beside the repeats it made."""
    design = design_of(run)
    made = repeats_made(run)
    order = [str(p) for p in plan_of(run).get("platforms") or []]
    out = []
    for w in plan_workloads(run):
        planned = f"{w.get('repeats', '?')}"
        if design:
            planned = f"adaptive, looks at n={design.min_n}-{design.max_n}"
        platforms = [str(p) for p in w.get("platforms", [])]
        # the run's own columns (docker-nat, docker-hostnet are docker's), in the plan's order
        ran = {t.platform for t in run.trials if t.workload == w["name"]}
        ran_ordered = [p for p in order if p in ran] + sorted(ran - set(order))
        out.append(
            {
                "name": str(w["name"]),
                "kind": str(w.get("kind", "command")),
                "duration": f"{w.get('duration', '?')} s",
                "repeats": f"{planned} + {w.get('warmup', 0)} warm-up",
                "made": _made_text(str(w["name"]), made, ran_ordered),
                "file": f"{w['file_size_mib']} MiB" if w.get("file_size_mib") else "-",
                "platforms": ", ".join(platforms),
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
