"""The claims about speed: start-up (C3), elasticity (C7), overhead against native (C8),
para-virtualised against emulated devices (C9) and isolation from a noisy neighbour (C10)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import pandas as pd

from bench.claims.evidence import (
    CONTAINER,
    EMULATED_VM,
    FEW,
    NATIVE,
    TCG_SPEED,
    VM,
    Order,
    RunView,
    Stat,
    few_caveats,
    finite,
    missing,
    num,
    order,
    record_stats,
    sample_rows,
    summarize_rows,
    with_interval,
)
from bench.claims.model import ClaimFigure, Outcome, Verdict
from bench.results import ExperimentRecord

DIRECTION_RULE: Final = (
    "better or worse is the rank test's verdict (p < 0.01 and at least the minimum effect), or"
    " else the ratio's 95% interval lying wholly on one side of 1"
)
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


def startup(data: RunView) -> Outcome:
    frame = data.workload_frame((w, "startup_s") for w in STARTUP_WORKLOADS)
    found = {(s.workload, s.platform): s for s in summarize_rows(sample_rows(frame))}
    figures: list[ClaimFigure] = []
    judged: list[tuple[str, Order, Stat, Stat]] = []
    for workload in STARTUP_WORKLOADS:
        for s in (v for (w, _), v in found.items() if w == workload):
            figures.append(s.figure(metric=f"{workload} p50"))
            p95 = _p95(frame, workload, s.platform)
            figures.append(ClaimFigure(s.platform, f"{workload} p95", p95, None, None, "s", s.n))
        container, vm = found.get((workload, CONTAINER)), found.get((workload, VM))
        if container is not None and vm is not None:
            judged.append((workload, order(container, vm), container, vm))
    if not judged:
        return missing("no start-up samples on both docker and libvirt", figures)
    parts = [
        f"{w}: container p50 {with_interval(c)}, VM {with_interval(v)}"
        + (f", {v.median / c.median:.3g}x slower" if c.median > 0 else "")
        for w, _, c, v in judged
    ]
    faster = all(placed == "below" for _, placed, _, _ in judged)
    verdict: Verdict = "supported" if faster else "not supported"
    rule = "the container's p50 interval ends below the VM's" + (
        " for every start-up workload" if faster else ", which it does not everywhere"
    )
    caveats = few_caveats(*(s for _, _, c, v in judged for s in (c, v)))
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
    w, _, c, v = judged[0]
    key = f"{w} p50 docker {num(c.median, c.unit)} vs VM {num(v.median, v.unit)}"
    reason = "; ".join(parts) + f". Rule: {rule}."
    return Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


def _p95(frame: pd.DataFrame, workload: str, platform: str) -> float | None:
    chosen = frame.loc[(frame["workload"] == workload) & (frame["platform"] == platform)]
    values = pd.to_numeric(chosen["value"], errors="coerce").dropna().to_numpy(np.float64)
    return float(np.quantile(values, 0.95)) if values.size else None


# --- C7 elasticity -------------------------------------------------------------------------------


def elasticity(data: RunView) -> Outcome:
    found = record_stats(data.records("elasticity"))
    figures = tuple(s.figure() for s in found.values())
    times = [found[(CONTAINER, m)] for m in RESIZE_METRICS if (CONTAINER, m) in found]
    if not times:
        return missing("no limit change measured on a container", figures)
    quick = all(s.median < QUICK_S for s in times)
    parts = [f"container {s.metric} {with_interval(s)}" for s in times]
    parts += [f"VM {m} {with_interval(found[(VM, m)])}" for m in RESIZE_METRICS if (VM, m) in found]
    verdict: Verdict = "supported" if quick else "not supported"
    rule = f"every change measured on the container takes effect within {QUICK_S:g} s (median)"
    caveats = few_caveats(*times)
    if data.tcg and any(p == VM for p, _ in found):
        caveats.append(TCG_SPEED + ": the VM's resize times are emulated guest time")
    if (VM, "memory-effective-s") not in found and any(p == VM for p, _ in found):
        caveats.append("the VM's memory change has no effective time: see the records' detail")
    slowest = max(times, key=lambda s: s.median)
    key = f"docker slowest: {slowest.metric} {num(slowest.median, 's')}"
    return Outcome(verdict, "; ".join(parts) + f". Rule: {rule}.", figures, tuple(caveats), key)


# --- C8 overhead ---------------------------------------------------------------------------------


def overhead(data: RunView) -> Outcome:
    frame = data.workload_frame(C8_METRICS)
    found = summarize_rows(sample_rows(frame), min_effects=_min_effects(data))
    figures = tuple(_ratio_figure(s) for s in found if s.platform != NATIVE)
    vm_rows = [s for s in found if s.platform == VM and math.isfinite(s.ratio)]
    container_rows = [s for s in found if s.platform == CONTAINER and math.isfinite(s.ratio)]
    containers = _tally(container_rows)
    if not vm_rows:
        return missing("no VM samples of the CPU, memory, disk or network workloads")
    if data.tcg:
        return Outcome(
            "not measurable here",
            "The claim is about virtualisation, and the VM ran under TCG: its figures measure"
            " software emulation, so no VM overhead is measured here. The container rows are"
            f" measured: {containers}.",
            figures,
            (TCG_SPEED,),
            f"VM: emulated; docker worse on {_worse(container_rows)}",
        )
    worse = sum(s.direction() == "worse" for s in vm_rows)
    verdict: Verdict = (
        "supported"
        if worse > len(vm_rows) / 2
        else "partly supported"
        if worse
        else "inconclusive"
        if any(s.undecided() for s in vm_rows)
        else "not supported"
    )
    reason = (
        f"The VM is worse than native on {worse} of {len(vm_rows)} metrics"
        f" ({_tally(vm_rows)}); the container: {containers}. Rule: {DIRECTION_RULE}; worse on"
        " most metrics is supported, on some partly."
    )
    unclear = sum(s.direction() == "unclear" for s in vm_rows)
    if unclear:
        reason += f" {unclear} VM metric(s) are unclear: too few or too noisy repeats."
    key = f"VM worse on {_worse(vm_rows)}, docker on {_worse(container_rows)}"
    return Outcome(verdict, reason, figures, key=key)


def _worse(rows: Sequence[Stat]) -> str:
    return f"{sum(s.direction() == 'worse' for s in rows)}/{len(rows)} metrics"


def _min_effects(data: RunView) -> dict[tuple[str, str], float]:
    from bench.report.compare import min_effects

    return min_effects(data.run.meta)


def _ratio_figure(s: Stat) -> ClaimFigure:
    return ClaimFigure(
        s.platform,
        f"{s.workload} {s.metric}",
        finite(s.ratio),
        finite(s.ratio_low),
        finite(s.ratio_high),
        "x native",
        s.n,
        note=f"{s.verdict}; median {num(s.median, s.unit)}",
    )


def _tally(rows: Sequence[Stat]) -> str:
    if not rows:
        return "none measured"
    return ", ".join(
        f"{s.workload} {s.metric} x{s.ratio:.3g} [{s.ratio_low:.3g}, {s.ratio_high:.3g}]"
        f" {_judged(s)}"
        for s in rows
    )


def _judged(s: Stat) -> str:
    """The direction, and how it was found when the rank test could not say."""
    if s.verdict in ("better", "worse") or s.direction() == "unclear":
        return s.verdict
    return f"{s.direction()} (by its interval; the rank test: {s.verdict})"


# --- C9 para-virtualisation ----------------------------------------------------------------------


def paravirt(data: RunView) -> Outcome:
    frame = data.workload_frame(C9_METRICS)
    platforms = set(frame["platform"]) if len(frame) else set()
    if VM not in platforms or EMULATED_VM not in platforms:
        return missing(
            "the disk and network workloads did not run on both libvirt (virtio) and"
            " libvirt-emulated"
        )
    rows = sample_rows(frame)
    versus_emulated = [s for s in summarize_rows(rows, baseline=EMULATED_VM) if s.platform == VM]
    versus_native = [s for s in summarize_rows(rows) if s.platform in (VM, EMULATED_VM)]
    figures = [_ratio_figure(s) for s in versus_native]
    figures += [
        ClaimFigure(
            VM,
            f"{s.workload} {s.metric}",
            finite(s.ratio),
            finite(s.ratio_low),
            finite(s.ratio_high),
            "x libvirt-emulated",
            s.n,
            note=s.verdict,
        )
        for s in versus_emulated
    ]
    judged = [s for s in versus_emulated if math.isfinite(s.ratio)]
    better = sum(s.direction() == "better" for s in judged)
    faster = bool(judged) and better > len(judged) / 2
    # a majority the undecided metrics could still make: no verdict either way
    open_question = not faster and better + sum(s.undecided() for s in judged) > len(judged) / 2
    vm_native = [s for s in versus_native if s.platform == VM and math.isfinite(s.ratio)]
    slower = (
        bool(vm_native) and sum(s.direction() == "worse" for s in vm_native) > len(vm_native) / 2
    )
    reason = (
        f"virtio is better than emulated devices on {better} of {len(judged)} metrics"
        f" (virtio over emulated: {_tally(judged)})"
    )
    key = f"virtio better than emulated on {better}/{len(judged)}"
    if open_question:
        reason += (
            "; too few or too noisy repeats to decide on enough of them. Rule:"
            f" {DIRECTION_RULE}; a verdict only where the undecided metrics could not change it."
        )
        caveats = (*few_caveats(*judged), *((TCG_SPEED,) if data.tcg else ()))
        return Outcome("inconclusive", reason, tuple(figures), caveats, key + " (undecided)")
    if data.tcg:
        verdict: Verdict = "partly supported" if faster else "not supported"
        reason += (
            "; against the real machine nothing is measurable under TCG, where every guest"
            " instruction is emulated."
        )
        return Outcome(verdict, reason, tuple(figures), (TCG_SPEED,), key + "; vs native: emulated")
    verdict = (
        "supported" if faster and slower else "partly supported" if faster else "not supported"
    )
    reason += (
        f"; worse than native on {sum(s.direction() == 'worse' for s in vm_native)} of"
        f" {len(vm_native)}. Rule: {DIRECTION_RULE}; most metrics must hold for each half."
    )
    return Outcome(
        verdict, reason, tuple(figures), key=f"{key}, worse than native on {_worse(vm_native)}"
    )


# --- C10 isolation -------------------------------------------------------------------------------


def isolation(data: RunView) -> Outcome:
    slowdown = _slowdowns(data.records("isolation"))
    figures = tuple(
        ClaimFigure(
            platform,
            f"{victim} slowdown",
            *_slowdown(s),
            "fraction",
            s.n,
            note="1 - with neighbour / alone",
        )
        for (victim, platform), s in slowdown.items()
    )
    victims = sorted({v for v, _ in slowdown})
    compared = [
        (v, slowdown[(v, CONTAINER)], slowdown[(v, VM)])
        for v in victims
        if (v, CONTAINER) in slowdown and (v, VM) in slowdown
    ]
    if not compared:
        return missing(
            "needs victim-alone and victim-with-neighbour of containers and VMs", figures
        )
    more = [v for v, c, m in compared if _apart(c, m) == "more"]
    less = [v for v, c, m in compared if _apart(c, m) == "less"]
    parts = [f"{v}: container {_slow_text(c)}, VM {_slow_text(m)}" for v, c, m in compared]
    both = [s for _, c, m in compared for s in (c, m)]
    caveats = few_caveats(*both)
    # Overlapping intervals from fewer than FEW repeats tell nothing either way.
    few = any(s.n < FEW for s in both)
    verdict: Verdict = (
        "supported"
        if more and not less
        else "partly supported"
        if more
        else "inconclusive"
        if not less and few
        else "not supported"
    )
    rule = (
        "the container loses more than the VM (intervals apart) for some victim, and less for"
        f" none; with intervals that overlap everywhere and fewer than {FEW} repeats, inconclusive"
    )
    if data.tcg:
        caveats.append(
            "accel=tcg: a neighbour in a TCG VM works more slowly and so presses less on the"
            " shared caches, memory and disk: the VM rows may understate its interference"
        )
    key = "; ".join(
        f"{v}: docker {_slow_text(c).split(' ')[0]}, VM {_slow_text(m).split(' ')[0]}"
        for v, c, m in compared
    )
    return Outcome(verdict, "; ".join(parts) + f". Rule: {rule}.", figures, tuple(caveats), key)


def _slowdowns(records: Iterable[ExperimentRecord]) -> dict[tuple[str, str], Stat]:
    """Per (victim, platform): with-neighbour over alone, the ratio and its interval from
    summarize() with "alone" as the baseline."""
    phases = {"victim-alone": "alone", "victim-with-neighbour": "with"}
    keys: dict[str, tuple[str, str]] = {}
    rows = []
    for r in records:
        if r.metric not in phases or r.value is None or not math.isfinite(r.value):
            continue
        victim = str(r.detail.get("victim", "victim"))
        subject = f"{victim} on {r.platform}"
        keys[subject] = (victim, r.platform)
        rows.append(
            {
                "workload": "isolation",
                "metric": subject,
                "platform": phases[r.metric],
                "value": r.value,
                "unit": r.unit,
                "higher_is_better": True,
            }
        )
    found = summarize_rows(rows, baseline="alone")
    return {keys[s.metric]: s for s in found if s.platform == "with"}


def _slowdown(s: Stat) -> tuple[float | None, float | None, float | None]:
    return finite(1 - s.ratio), finite(1 - s.ratio_high), finite(1 - s.ratio_low)


def _slow_text(s: Stat) -> str:
    value, low, high = _slowdown(s)
    if value is None:
        return "-"
    text = f"{value:+.1%}"
    if low is not None and high is not None:
        text += f" [{low:+.1%}, {high:+.1%}]"
    return text + f" (n={s.n})"


def _apart(container: Stat, vm: Stat) -> str:
    """'more' when the container's slowdown interval lies above the VM's, 'less' below."""
    c_value, c_low, c_high = _slowdown(container)
    v_value, v_low, v_high = _slowdown(vm)
    if None in (c_low, c_high, v_low, v_high):
        if c_value is None or v_value is None or c_value == v_value:
            return "same"
        return "more" if c_value > v_value else "less"
    if c_low > v_high:  # type: ignore[operator]
        return "more"
    if c_high < v_low:  # type: ignore[operator]
        return "less"
    return "same"
