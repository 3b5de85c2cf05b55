"""The claims about what an instance is and costs: kernel (C1), image size (C2), memory
(C4), disk (C5), density (C6) and what it sees of the machine (C11)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from bench.analysis.claims.evidence import (
    CONTAINER,
    GATE_RULE,
    IDLE_FOOTPRINT,
    NATIVE,
    VM,
    RunView,
    Stat,
    claim_verdict,
    few_caveats,
    judged_text,
    missing,
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

ORDER_OF_MAGNITUDE: Final = 10.0
# C11: a VM's kernel keeps some of its RAM for itself, so MemTotal sits a little below the
# limit; "sees more than its limit" needs a clear margin above it.
OVER_LIMIT: Final = 1.05


# --- C1 kernel ---------------------------------------------------------------------------------


def kernel(data: RunView) -> Finding:
    releases = {r.platform: r.text for r in data.records("kernel", "uname-r") if r.text}
    figures = tuple(
        ClaimFigure(p, "uname -r", None, None, None, "", 1, text=t) for p, t in releases.items()
    )
    missing = [p for p in (NATIVE, CONTAINER, VM) if p not in releases]
    if missing:
        return Finding(
            "not measured in this run",
            f"no kernel release from {', '.join(missing)}",
            figures,
        )
    host, container, vm = releases[NATIVE], releases[CONTAINER], releases[VM]
    shares = container == host
    own = vm != host
    verdict: Verdict = "supported" if shares and own else "not supported"
    reason = (
        f"The host runs {host}; the container reports {container}"
        f" ({'the same: it shares the host kernel' if shares else 'a different one'}); the VM"
        f" reports {vm} ({'its own' if own else 'the same as the host'})."
    )
    key = f"host {host}, docker {container}, VM {vm} (exact readings, n=1)"
    return Finding(verdict, reason, figures, key=key)


# --- C2 image size -------------------------------------------------------------------------------


def image_size(data: RunView) -> Finding:
    found = record_stats(data.records("image-size"))
    figures = tuple(s.figure() for s in found.values())
    image = found.get((CONTAINER, "image-bytes"))
    vm = found.get((VM, "total-bytes"))
    if image is None or vm is None:
        return Finding(
            "not measured in this run",
            "needs the container's image-bytes and the VM's total-bytes",
            figures,
        )
    bad = [
        f"{what} {num(s.median, 'B')}"
        for what, s in (("the container image", image), ("the VM", vm))
        if not (math.isfinite(s.median) and s.median > 0)
    ]
    if bad:  # a ratio over 0 or NaN is no order of magnitude: never "supported"
        return Finding(
            "inconclusive",
            f"no size to compare: {' and '.join(bad)} (a size must be a number above 0);"
            " the image-size experiment's records say what it read",
            figures,
            key=f"image {num(image.median, 'B')} vs VM {num(vm.median, 'B')}: no ratio",
        )
    ratio = vm.median / image.median
    big = ratio >= ORDER_OF_MAGNITUDE
    verdict: Verdict = "supported" if big else "not supported"
    reason = (
        f"The container image takes {num(image.median, 'B')}; the VM needs"
        f" {num(vm.median, 'B')} (disk, kernel and initramfs), {ratio:.3g}x as much,"
        f" {'at least' if big else 'less than'} the order of magnitude ({ORDER_OF_MAGNITUDE:g}x)"
        " the claim implies. Both hold the same userland, so the difference is the guest"
        " kernel, its initramfs and the file system's slack, not a bigger OS."
    )
    caveats = []
    if image.median >= 2**30:
        caveats.append("the container image itself is GB-sized: this userland is not minimal")
    key = (
        f"image {num(image.median, 'B')} vs VM {num(vm.median, 'B')} ({ratio:.3g}x; exact"
        f" sizes, n={image.n} and {vm.n})"
    )
    return Finding(verdict, reason, figures, tuple(caveats), key)


# --- C4 memory -----------------------------------------------------------------------------------


def memory(data: RunView) -> Finding:
    records = data.records("memory")
    found = record_stats(records)
    figures = [s.figure() for s in found.values()]
    footprint = data.workload_frame([(IDLE_FOOTPRINT, "memory_mib")])
    footprint_rows = sample_rows(footprint)
    figures += [
        s.figure(metric="idle-footprint memory")
        for s in summarize_rows(footprint_rows)
        if s.platform in (CONTAINER, VM)
    ]
    rows = [r for r in record_rows(records) if r["metric"] in ("idle-bytes", "loaded-bytes")]
    mine, theirs = versus(rows, CONTAINER, VM)
    source = "the memory experiment"
    if not mine:
        mine, theirs = versus(footprint_rows, CONTAINER, VM)
        source = f"the {IDLE_FOOTPRINT} workload (the memory experiment did not run)"
    if not mine:
        return missing("needs idle memory of both a container and a VM", figures)
    pairs = [(k[1], c, theirs[k]) for k, c in mine.items()]
    t = tally([c for _, c, _ in pairs], "better")
    verdict = claim_verdict(t, "all")
    parts = [f"{m}: container {judged_text(c, v)}" for m, c, v in pairs]
    caveats = few_caveats(*(s for _, c, v in pairs for s in (c, v)))
    if not any(m == "loaded-bytes" for m, _, _ in pairs):
        caveats.append("loaded memory not measured: whether a VM holds on to it is not tested")
    if data.tcg:
        caveats.append(
            "accel=tcg: QEMU's translated-code cache counts in the VM's memory; a KVM VM has none"
        )
    if source.startswith(f"the {IDLE_FOOTPRINT}"):
        caveats += _footprint_bases(data)
    rule = f"the container uses less memory than the VM on every measure, by {GATE_RULE}"
    reason = f"From {source}: " + "; ".join(parts) + f". {t.text()}. Rule: {rule}."
    m, c, v = pairs[0]
    key = f"{m}: docker {with_interval(c)} vs VM {with_interval(v)}"
    return Finding(verdict, reason, tuple(figures), tuple(caveats), key)


def _footprint_bases(data: RunView) -> list[str]:
    """What the idle footprint's memory_mib counted on each side, as its trials recorded it
    (a container's charged memory against a VM's PSS or RSS); nothing from older runs."""
    bases: dict[str, set[str]] = {}
    for event in data.run.events:
        if event.kind == "footprint" and event.data.get("platform") in (CONTAINER, VM):
            bases.setdefault(str(event.data["platform"]), set()).add(
                str(event.data.get("memory_basis", ""))
            )
    if not bases:
        return []
    said = "; ".join(f"{p}: {', '.join(sorted(b))}" for p, b in sorted(bases.items()))
    caveat = f"idle-footprint memory_mib counts {said}"
    if "rss" in bases.get(VM, set()):
        caveat += " (RSS counts the VM's shared pages in full: PSS was not readable)"
    return [caveat]


# --- C5 disk -------------------------------------------------------------------------------------


def disk(data: RunView) -> Finding:
    records = data.records("disk-per-instance")
    found = record_stats(records)
    figures = tuple(s.figure() for s in found.values())
    rows = [r for r in record_rows(records) if r["metric"] == "bytes-after-work"]
    mine, theirs = versus(rows, CONTAINER, VM)
    if not mine:
        return missing("needs bytes-after-work of both a container and a VM", figures)
    ((k, container),) = mine.items()
    vm = theirs[k]
    verdict = claim_verdict(tally([container], "better"), "all")
    reason = (
        "Disk used by one more instance after the same work: container"
        f" {judged_text(container, vm)}. Rule: the container uses less than the VM, by"
        f" {GATE_RULE}."
    )
    key = f"docker {with_interval(container)} vs VM {with_interval(vm)}"
    return Finding(verdict, reason, figures, tuple(few_caveats(container, vm)), key)


# --- C6 density ----------------------------------------------------------------------------------

# The memory each instance of the ramp added (MemAvailable before and after its start); runs
# from before it was recorded have only the ramp's average, one figure per platform.
STEP: Final = "step-bytes"
AVERAGE: Final = "bytes-per-instance"


def density(data: RunView) -> Finding:
    records = data.records("density")
    found = record_stats(r for r in records if r.metric != "startup-s")
    starts = record_stats(data.records("density", "startup-s"))
    reasons = {r.platform: r.text for r in data.records("density", "stop-reason")}
    figures = [s.figure() for s in found.values()]
    figures += [s.figure(metric="startup-s (all instances)") for s in starts.values()]
    figures += [
        ClaimFigure(p, "stop-reason", None, None, None, "", 1, text=t) for p, t in reasons.items()
    ]
    counts = {p: found.get((p, "instances")) for p in (CONTAINER, VM)}
    if counts[CONTAINER] is None or counts[VM] is None:
        return missing("needs the instance count of both containers and VMs", figures)
    measure = STEP if any(r.metric == STEP for r in records) else AVERAGE
    mine, theirs = versus(
        [r for r in record_rows(records) if r["metric"] == measure], CONTAINER, VM
    )
    parts = [
        f"{p}: {n.median:.0f} instances (stopped by {reasons.get(p, 'unknown')})"
        for p, n in counts.items()
        if n is not None
    ]
    if not mine:
        return missing(f"needs {measure} of both containers and VMs", figures)
    ((k, container),) = mine.items()
    vm = theirs[k]
    verdict = claim_verdict(tally([container], "better"), "all")
    parts.append(f"memory each instance added: container {judged_text(container, vm)}")
    if container.median > 0 and vm.median > 0:
        parts.append(
            f"{2**30 / container.median:.3g} containers vs {2**30 / vm.median:.3g} VMs per GiB"
        )
    rule = (
        "each container costs the host less memory than each VM (so more fit in any budget),"
        f" by {GATE_RULE}; the counts are one ramp each and bounded by the caps, so they are"
        " shown, not judged"
    )
    caveats = few_caveats(container, vm)
    if measure == AVERAGE:
        caveats.append(
            "this run recorded only the ramp's average memory per instance (one figure per"
            " platform): rerun the density experiment for a per-instance figure"
        )
    if data.tcg and reasons.get(VM) == "deadline":
        caveats.append(
            "accel=tcg: the VMs hit the start-up deadline, and TCG boots slowly: under KVM"
            " more might have fit"
        )
    c, v = counts[CONTAINER], counts[VM]
    key = (
        f"per instance docker {with_interval(container)} vs VM {with_interval(vm)};"
        f" {c.median:.0f} vs {v.median:.0f} started"
    )
    reason = "; ".join(parts) + f". Rule: {rule}."
    return Finding(verdict, reason, tuple(figures), tuple(caveats), key)


# --- C11 visibility ------------------------------------------------------------------------------


def visibility(data: RunView) -> Finding:
    found = record_stats(data.records("visibility"))
    figures = tuple(s.figure() for s in found.values())
    seen = {p: _sees_more(found, p) for p in (CONTAINER, VM)}
    if seen[CONTAINER] is None or seen[VM] is None:
        return missing(
            "needs nproc or the memory total inside both a container and a VM, and their"
            " limits: the VM shows what an instance that owns its machine sees",
            figures,
        )
    unreadable = [f"{p} {m}" for p in (CONTAINER, VM) for m in _not_numbers(found, p)]
    if unreadable:  # NaN > limit is False: a NaN must not read as "sees only its own"
        return Finding(
            "inconclusive",
            f"readings that are not numbers: {', '.join(unreadable)}; the visibility"
            " experiment's records say what it read",
            figures,
            key=f"docker: {_visible_text(found, CONTAINER)}; VM: {_visible_text(found, VM)}",
        )
    verdict: Verdict = "supported" if seen[CONTAINER] and not seen[VM] else "not supported"
    reason = (
        f"Inside the container: {_visible_text(found, CONTAINER)}; inside the VM:"
        f" {_visible_text(found, VM)}. Rule: supported when the container sees more CPUs or"
        f" memory than its limits (memory: more than {OVER_LIMIT:g}x) while the VM sees its"
        " own; these are exact readings (nproc, MemTotal), not samples."
    )
    caveats = []
    if seen[VM]:
        caveats.append("the VM, too, sees more than its limits: check its domain's settings")
    key = f"docker: {_visible_text(found, CONTAINER)}; VM: {_visible_text(found, VM)}"
    return Finding(verdict, reason, figures, tuple(caveats), key)


def _sees_more(found: Mapping[tuple[str, str], Stat], platform: str) -> bool | None:
    """True when nproc or the memory total exceed the limits set; None when not measured."""
    answers = []
    nproc, vcpus = found.get((platform, "nproc")), found.get((platform, "limit-vcpus"))
    if nproc is not None and vcpus is not None:
        answers.append(nproc.median > vcpus.median)
    total, limit = (
        found.get((platform, "mem-total-bytes")),
        found.get((platform, "limit-memory-bytes")),
    )
    if total is not None and limit is not None:
        answers.append(total.median > OVER_LIMIT * limit.median)
    return any(answers) if answers else None


def _not_numbers(found: Mapping[tuple[str, str], Stat], platform: str) -> list[str]:
    """The visibility readings of a platform whose median is not a finite number."""
    metrics = ("nproc", "limit-vcpus", "mem-total-bytes", "limit-memory-bytes")
    return [
        m
        for m in metrics
        if (s := found.get((platform, m))) is not None and not math.isfinite(s.median)
    ]


def _visible_text(found: Mapping[tuple[str, str], Stat], platform: str) -> str:
    def value(metric: str, unit: str = "") -> str:
        s = found.get((platform, metric))
        return "-" if s is None else num(s.median, unit)

    return (
        f"nproc {value('nproc')} for {value('limit-vcpus')} vCPUs set,"
        f" memory total {value('mem-total-bytes', 'B')} for a"
        f" {value('limit-memory-bytes', 'B')} limit"
    )
