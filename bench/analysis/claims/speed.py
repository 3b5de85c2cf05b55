"""The claims about speed: start-up (C3), elasticity (C7), overhead against native (C8),
para-virtualised against emulated devices (C9) and isolation from a noisy neighbour (C10)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from bench.analysis import gate
from bench.analysis.claims.evidence import (
    CONTAINER,
    EMULATED_VM,
    GATE_RULE,
    NATIVE,
    SANDBOX,
    TCG_SPEED,
    VM,
    RunView,
    Stat,
    Tally,
    claim_verdict,
    few_caveats,
    finite,
    judged_text,
    missing,
    n_span,
    num,
    record_rows,
    record_stats,
    sample_rows,
    summarize_rows,
    tally,
    versus,
    with_interval,
)
from bench.analysis.claims.model import ClaimFigure, Finding, Verdict
from bench.data.results import ExperimentRecord

QUICK_S: Final = 1.0  # C7: "quickly" means the change shows inside within a second
C8_METRICS: Final = (
    ("cpu-sysbench", "events_per_s"),
    ("memory-read", "mib_per_s"),
    ("memory-write", "mib_per_s"),
    ("disk-randread-4k", "iops"),
    ("disk-randwrite-4k", "iops"),
    ("net-iperf3", "gbit_per_s"),
    ("net-sockperf", "latency_p50_us"),
)
C9_METRICS: Final = (
    *(m for m in C8_METRICS if m[0].startswith(("disk-", "net-"))),
    ("disk-seqread-1m", "bw_mib_s"),
    ("disk-seqwrite-1m", "bw_mib_s"),
)
STARTUP_WORKLOADS: Final = ("startup-warm", "startup-cold")
# C7: from the change call until the inside shows the new limit, and until it takes effect
RESIZE_METRICS: Final = (
    "cpu-visible-s",
    "cpu-effective-s",
    "memory-visible-s",
    "memory-effective-s",
)


# --- C3 start-up ---------------------------------------------------------------------------------


def startup(data: RunView) -> Finding:
    frame = data.workload_frame((w, "startup_s") for w in STARTUP_WORKLOADS)
    rows = sample_rows(frame)
    figures: list[ClaimFigure] = []
    for s in summarize_rows(rows):
        figures.append(s.figure(metric=f"{s.workload} p50"))
        p95 = _p95(frame, s.workload, s.platform)
        figures.append(ClaimFigure(s.platform, f"{s.workload} p95", p95, None, None, "s", s.n))
    mine, theirs = versus(rows, CONTAINER, VM)
    judged = [(w, mine[k], theirs[k]) for w in STARTUP_WORKLOADS if (k := (w, "startup_s")) in mine]
    if not judged:
        return missing("no start-up samples on both docker and libvirt", figures)
    t = tally([c for _, c, _ in judged], "better")
    verdict = claim_verdict(t, "all")
    parts = [f"{w}: container p50 {judged_text(c, v)}" for w, c, v in judged]
    rule = f"the container starts faster than the VM for every start-up workload, by {GATE_RULE}"
    caveats = few_caveats(*(s for _, c, v in judged for s in (c, v)))
    if data.tcg:
        caveats.insert(
            0,
            TCG_SPEED + ": a TCG guest boots several times slower than under KVM, so the"
            " gap here overstates a real VM's; the published KVM-class figures (Firecracker"
            " <= 125 ms) show how fast a tuned VM can start",
        )
    caveats.append("p95 is a plain quantile of the repeats, without an interval")
    unjudged = [w for w in STARTUP_WORKLOADS if w not in {j[0] for j in judged}]
    if unjudged:
        caveats.append(f"{', '.join(unjudged)} not measured on both docker and libvirt")
    w, c, v = judged[0]
    key = f"{w} p50 docker {with_interval(c)} vs VM {with_interval(v)}"
    reason = "; ".join(parts) + f". {t.text()}. Rule: {rule}."
    return Finding(verdict, reason, tuple(figures), tuple(caveats), key)


def _p95(frame: pd.DataFrame, workload: str, platform: str) -> float | None:
    chosen = frame.loc[(frame["workload"] == workload) & (frame["platform"] == platform)]
    values = pd.to_numeric(chosen["value"], errors="coerce").dropna().to_numpy(np.float64)
    return float(np.quantile(values, 0.95)) if values.size else None


# --- C7 elasticity -------------------------------------------------------------------------------


def elasticity(data: RunView) -> Finding:
    records = data.records("elasticity")
    found = record_stats(records)
    figures = tuple(s.figure() for s in found.values())
    rows = [r for r in record_rows(records) if r["metric"] in RESIZE_METRICS]
    if not any(p == CONTAINER for p, _ in found):
        return missing("no limit change measured on a container", figures)
    faster = faster_within(rows, RESIZE_METRICS, QUICK_S)
    if faster is None:
        return missing("needs the same limit changes timed on a VM, to compare with", figures)
    judged, t, verdict, slow = faster.judged, faster.tally, faster.verdict, faster.slow
    parts = [f"{c.metric}: container {judged_text(c, v)}" for c, v in judged]
    rule = (
        f"every limit change takes effect faster on the container than on the VM, by {GATE_RULE},"
        f" and within {QUICK_S:g} s (the container's interval ends below it)"
    )
    reason = "; ".join(parts) + f". {t.text()}"
    if slow:
        reason += "; not within " + f"{QUICK_S:g} s: " + ", ".join(c.metric for c in slow)
    caveats = few_caveats(*(s for pair in judged for s in pair))
    if data.tcg:
        caveats.append(TCG_SPEED + ": the VM's resize times are emulated guest time")
    if (VM, "memory-effective-s") not in found and any(p == VM for p, _ in found):
        caveats.append("the VM's memory change has no effective time: see the records' detail")
    slowest = max((c for c, _ in judged), key=lambda s: s.median)
    key = f"docker slowest {slowest.metric} {with_interval(slowest)}"
    return Finding(verdict, reason + f". Rule: {rule}.", figures, tuple(caveats), key)


@dataclass(frozen=True)
class Faster:
    """The container's times judged against the VM's, one family: all must be faster, and
    within `bound` (the container's interval ends below it), else only partly supported."""

    judged: list[tuple[Stat, Stat]]  # (container, VM), in the metrics' order
    tally: Tally
    verdict: Verdict
    slow: list[Stat]  # the container's figures not within the bound


def faster_within(
    rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], bound: float
) -> Faster | None:
    """None when no metric has figures on both sides."""
    mine, theirs = versus(rows, CONTAINER, VM)
    if not mine:
        return None
    judged = [(mine[k], theirs[k]) for k in sorted(mine, key=lambda k: metrics.index(k[1]))]
    t = tally([c for c, _ in judged], "better")
    verdict = claim_verdict(t, "all")
    slow = [c for c, _ in judged if not (math.isfinite(c.high) and c.high < bound)]
    if verdict == "supported" and slow:
        verdict = "partly supported"
    return Faster(judged, t, verdict, slow)


# --- C8 overhead ---------------------------------------------------------------------------------


def overhead(data: RunView) -> Finding:
    frame = data.workload_frame(C8_METRICS)
    found = summarize_rows(
        sample_rows(frame), min_effects=data.run.run_meta.min_effects, family="platform"
    )
    figures = tuple(_ratio_figure(s) for s in found if s.platform != NATIVE)
    vm_rows = [s for s in found if s.platform == VM]
    container_rows = [s for s in found if s.platform == CONTAINER]
    containers = _tally(container_rows)
    if not vm_rows:
        return missing("no VM samples of the CPU, memory, disk or network workloads")
    if data.tcg:
        return Finding(
            "not measurable here",
            "The claim is about virtualisation, and the VM ran under TCG: its figures measure"
            " software emulation, so no VM overhead is measured here. The container rows are"
            f" measured: {containers}.",
            figures,
            (TCG_SPEED,),
            f"VM: emulated; docker {_worse(container_rows)}",
        )
    t = tally(vm_rows, "worse")
    verdict = claim_verdict(t, "majority")
    reason = (
        f"The VM against native: {t.text()} ({_tally(vm_rows)}); the container: {containers}."
        f" Rule: worse on most metrics is supported, on some partly, by {GATE_RULE}."
    )
    key = f"VM {_worse(vm_rows)}, docker {_worse(container_rows)}"
    return Finding(verdict, reason, figures, tuple(few_caveats(*vm_rows)), key)


def _worse(rows: Sequence[Stat]) -> str:
    """e.g. "worse on 2/7 metrics (n=8), furthest net-iperf3 x0.52 [0.5, 0.58]": the count,
    the repeats it rests on, and the figure furthest from native with its interval."""
    worse = sum(s.verdict == "worse" for s in rows)
    text = f"worse on {worse}/{len(rows)} metrics ({n_span(rows)})"
    positive = [s for s in rows if math.isfinite(s.ratio) and s.ratio > 0]
    if positive:
        far = max(positive, key=lambda s: abs(math.log(s.ratio)))
        text += f", furthest {far.workload} {_ratio_text(far)}"
    return text


def _ratio_text(s: Stat) -> str:
    """e.g. "x0.52 [0.5, 0.58]"; the interval only where there is one (n >= 2 a side; a
    budget can stop a figure at n=1, and "[nan, nan]" says nothing)."""
    text = f"x{s.ratio:.3g}"
    if math.isfinite(s.ratio_low) and math.isfinite(s.ratio_high):
        text += f" [{s.ratio_low:.3g}, {s.ratio_high:.3g}]"
    return text


def _ratio_figure(s: Stat, against: str = "native") -> ClaimFigure:
    return ClaimFigure(
        s.platform,
        f"{s.workload} {s.metric}",
        finite(s.ratio),
        finite(s.ratio_low),
        finite(s.ratio_high),
        f"x {against}",
        s.n,
        note=f"{s.verdict}; median {num(s.median, s.unit)}",
    )


def _tally(rows: Sequence[Stat]) -> str:
    if not rows:
        return "none measured"
    return ", ".join(f"{s.workload} {s.metric} {_ratio_text(s)} n={s.n} {s.verdict}" for s in rows)


# --- C9 para-virtualisation ----------------------------------------------------------------------


def paravirt(data: RunView) -> Finding:
    frame = data.workload_frame(C9_METRICS)
    platforms = set(frame["platform"]) if len(frame) else set()
    if VM not in platforms or EMULATED_VM not in platforms:
        return missing(
            "the disk and network workloads did not run on both libvirt (virtio) and"
            " libvirt-emulated"
        )
    rows = sample_rows(frame)
    virtio, _ = versus(rows, VM, EMULATED_VM)
    judged = list(virtio.values())
    versus_native = [
        s for s in summarize_rows(rows, family="platform") if s.platform in (VM, EMULATED_VM)
    ]
    figures = [_ratio_figure(s) for s in versus_native]
    figures += [_ratio_figure(s, EMULATED_VM) for s in judged]
    faster = tally(judged, "better")
    first = claim_verdict(faster, "majority")
    reason = f"virtio against emulated devices: {faster.text()} ({_tally(judged)})"
    key = f"virtio better than emulated on {faster.hits}/{faster.total} ({n_span(judged)})"
    caveats = (*few_caveats(*judged), *((TCG_SPEED,) if data.tcg else ()))
    rule = f"most metrics must hold for each half, by {GATE_RULE}"
    if first in ("inconclusive", "not supported"):
        return Finding(first, f"{reason}. Rule: {rule}.", tuple(figures), caveats, key)
    if data.tcg:
        reason += (
            "; against the real machine nothing is measurable under TCG, where every guest"
            " instruction is emulated"
        )
        key += "; vs native: emulated"
        return Finding("partly supported", f"{reason}. Rule: {rule}.", tuple(figures), caveats, key)
    vm_native = [s for s in versus_native if s.platform == VM]
    slower = tally(vm_native, "worse")
    second = claim_verdict(slower, "majority")
    verdict: Verdict = (
        "supported" if first == "supported" and second == "supported" else "partly supported"
    )
    reason += f"; virtio against native: {slower.text()}"
    key += f", worse than native on {slower.hits}/{slower.total}"
    return Finding(verdict, f"{reason}. Rule: {rule}.", tuple(figures), caveats, key)


# --- C10 isolation -------------------------------------------------------------------------------


def isolation(data: RunView) -> Finding:
    mine, theirs = versus(_retained(data.records("isolation")), CONTAINER, VM)
    figures = tuple(
        ClaimFigure(
            s.platform,
            f"{s.metric} slowdown",
            *_slowdown(s),
            "fraction",
            s.n,
            note="1 - with neighbour / alone, paired by repeat",
        )
        for s in (*mine.values(), *theirs.values())
    )
    if not mine:
        return missing(
            "needs victim-alone and victim-with-neighbour of containers and VMs", figures
        )
    compared = [(k[1], c, theirs[k]) for k, c in mine.items()]
    # The container keeps less of its throughput than the VM: it is hurt more.
    t = tally([c for _, c, _ in compared], "worse")
    verdict = claim_verdict(t, "any")
    parts = [
        f"{v}: container {_slow_text(c)}, VM {_slow_text(m)}; {c.verdict} ({c.reason})"
        for v, c, m in compared
    ]
    rule = (
        "the container keeps less of its throughput beside the neighbour than the VM does for"
        f" some victim, and more for none, by {GATE_RULE}"
    )
    caveats = few_caveats(*(s for _, c, m in compared for s in (c, m)))
    if data.tcg:
        caveats.append(
            "accel=tcg: a neighbour in a TCG VM works more slowly and so presses less on the"
            " shared caches, memory and disk: the VM rows may understate its interference"
        )
    key = "; ".join(f"{v}: docker {_slow_text(c)}, VM {_slow_text(m)}" for v, c, m in compared)
    reason = "; ".join(parts) + f". {t.text()}. Rule: {rule}."
    return Finding(verdict, reason, figures, tuple(caveats), key)


def _retained(records: Iterable[ExperimentRecord]) -> list[dict[str, object]]:
    """Per victim, platform and repeat: throughput with the neighbour over alone, the two
    measured back to back in that repeat (so slow drift of the host cancels out)."""
    pairs: dict[tuple[str, str, int], dict[str, float]] = {}
    for r in records:
        if r.metric not in ("victim-alone", "victim-with-neighbour") or r.value is None:
            continue
        victim = str(r.detail.get("victim", "victim"))
        pairs.setdefault((victim, r.platform, r.repeat), {})[r.metric] = r.value
    return [
        {
            "workload": "isolation",
            "metric": victim,
            "platform": platform,
            "value": gate.safe_ratio(pair["victim-with-neighbour"], pair["victim-alone"]),
            "unit": "fraction",
            "higher_is_better": True,
        }
        for (victim, platform, _), pair in pairs.items()
        if len(pair) == 2
    ]


def _slowdown(s: Stat) -> tuple[float | None, float | None, float | None]:
    """The share of throughput lost, 1 - retained, with its interval (its ends swap)."""
    return finite(1 - s.median), finite(1 - s.high), finite(1 - s.low)


def _slow_text(s: Stat) -> str:
    value, low, high = _slowdown(s)
    if value is None:
        return "-"
    text = f"{value:+.1%}"
    if low is not None and high is not None:
        text += f" [{low:+.1%}, {high:+.1%}]"
    return text + f" (n={s.n})"


# --- C13 the user-space kernel sandbox ------------------------------------------------------------

SYSCALL: Final = ("syscall-small-io", "seconds")


def sandbox(data: RunView) -> Finding:
    starts = sample_rows(data.workload_frame((w, "startup_s") for w in STARTUP_WORKLOADS))
    calls = sample_rows(data.workload_frame([SYSCALL]))
    figures = [
        s.figure(metric=f"{s.workload} {s.metric}")
        for s in summarize_rows(starts + calls)
        if s.platform in (CONTAINER, SANDBOX, VM, NATIVE)
    ]
    mine, theirs = versus(starts + calls, SANDBOX, VM)  # one family: start-up and syscalls
    start_keys = [k for k in mine if k[0] in STARTUP_WORKLOADS]
    if SYSCALL not in mine or not start_keys:
        return missing(
            "needs start-up and syscall-small-io samples on both gvisor and libvirt", figures
        )
    faster = tally([mine[k] for k in start_keys], "better")
    slower = tally([mine[SYSCALL]], "worse")
    t = faster + slower
    verdict = claim_verdict(t, "all")
    parts = [f"{k[0]}: gvisor {judged_text(mine[k], theirs[k])}" for k in start_keys]
    parts.append(f"syscall-small-io: gvisor {judged_text(mine[SYSCALL], theirs[SYSCALL])}")
    rule = (
        "gvisor starts faster than the VM on every start-up workload and is slower than it on"
        f" the system-call microbenchmark, by {GATE_RULE}"
    )
    caveats = few_caveats(*(s for k in mine for s in (mine[k], theirs[k])))
    accels = sorted({s.accel for s in data.samples if s.platform == SANDBOX and s.accel})
    if accels:
        caveats.append(
            f"gVisor ran as {', '.join(accels)}: on ptrace every system call is a round trip"
            " through the host kernel to gVisor's sentry, the slowest of its platforms"
            " (systrap and KVM trap faster)"
        )
    if data.tcg:
        caveats.append(
            TCG_SPEED + ": the VM's start-up and its system calls are emulated guest time; under"
            " KVM its start-up is faster and a guest system call never leaves the guest"
        )
    w = start_keys[0]
    key = (
        f"syscall-small-io gvisor {with_interval(mine[SYSCALL])} vs VM"
        f" {with_interval(theirs[SYSCALL])}; {w[0]} gvisor {with_interval(mine[w])} vs VM"
        f" {with_interval(theirs[w])}"
    )
    reason = "; ".join(parts) + f". {t.text()}. Rule: {rule}."
    return Finding(verdict, reason, tuple(figures), tuple(caveats), key)
