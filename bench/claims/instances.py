"""The claims about what an instance is and costs: kernel (C1), image size (C2), memory
(C4), disk (C5), density (C6) and what it sees of the machine (C11)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from bench.claims.evidence import (
    CONTAINER,
    NATIVE,
    VM,
    RunView,
    Stat,
    few_caveats,
    missing,
    num,
    order,
    record_stats,
    sample_rows,
    summarize_rows,
    with_interval,
)
from bench.claims.model import ClaimFigure, Outcome, Verdict

ORDER_OF_MAGNITUDE: Final = 10.0
# C11: a VM's kernel keeps some of its RAM for itself, so MemTotal sits a little below the
# limit; "sees more than its limit" needs a clear margin above it.
OVER_LIMIT: Final = 1.05


# --- C1 kernel ---------------------------------------------------------------------------------


def kernel(data: RunView) -> Outcome:
    releases = {r.platform: r.text for r in data.records("kernel", "uname-r") if r.text}
    figures = tuple(
        ClaimFigure(p, "uname -r", None, None, None, "", 1, text=t) for p, t in releases.items()
    )
    missing = [p for p in (NATIVE, CONTAINER, VM) if p not in releases]
    if missing:
        return Outcome(
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
    return Outcome(verdict, reason, figures, key=f"host {host}, docker {container}, VM {vm}")


# --- C2 image size -------------------------------------------------------------------------------


def image_size(data: RunView) -> Outcome:
    found = record_stats(data.records("image-size"))
    figures = tuple(s.figure() for s in found.values())
    image = found.get((CONTAINER, "image-bytes"))
    vm = found.get((VM, "total-bytes"))
    if image is None or vm is None:
        return Outcome(
            "not measured in this run",
            "needs the container's image-bytes and the VM's total-bytes",
            figures,
        )
    ratio = vm.median / image.median if image.median > 0 else math.inf
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
    key = f"image {num(image.median, 'B')} vs VM {num(vm.median, 'B')} ({ratio:.3g}x)"
    return Outcome(verdict, reason, figures, tuple(caveats), key)


# --- C4 memory -----------------------------------------------------------------------------------


def memory(data: RunView) -> Outcome:
    found = record_stats(data.records("memory"))
    figures = [s.figure() for s in found.values()]
    footprint = _footprint(data)
    figures += [s.figure(metric="idle-footprint memory") for s in footprint.values()]
    pairs: list[tuple[str, Stat, Stat]] = []
    for metric in ("idle-bytes", "loaded-bytes"):
        container, vm = found.get((CONTAINER, metric)), found.get((VM, metric))
        if container is not None and vm is not None:
            pairs.append((metric, container, vm))
    source = "the memory experiment"
    if not pairs and CONTAINER in footprint and VM in footprint:
        pairs.append(("idle memory (idle-footprint workload)", footprint[CONTAINER], footprint[VM]))
        source = "the idle-footprint workload (the memory experiment did not run)"
    if not pairs:
        return missing("needs idle memory of both a container and a VM", figures)
    parts = [f"{m}: container {with_interval(c)}, VM {with_interval(v)}" for m, c, v in pairs]
    less = all(order(c, v) == "below" for _, c, v in pairs)
    verdict: Verdict = "supported" if less else "not supported"
    caveats = few_caveats(*(s for _, c, v in pairs for s in (c, v)))
    if not any(m == "loaded-bytes" for m, _, _ in pairs):
        caveats.append("loaded memory not measured: whether a VM holds on to it is not tested")
    if data.tcg:
        caveats.append(
            "accel=tcg: QEMU's translated-code cache counts in the VM's memory; a KVM VM has none"
        )
    rule = "the container's interval ends below the VM's" + ("" if less else ", not everywhere")
    reason = f"From {source}: " + "; ".join(parts) + f". Rule: {rule}."
    m, c, v = pairs[0]
    key = f"{m.split(' (')[0]}: docker {num(c.median, c.unit)} vs VM {num(v.median, v.unit)}"
    return Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


def _footprint(data: RunView) -> dict[str, Stat]:
    frame = data.workload_frame([("idle-footprint", "memory_mib")])
    if frame.empty:
        return {}
    return {s.platform: s for s in summarize_rows(sample_rows(frame))}


# --- C5 disk -------------------------------------------------------------------------------------


def disk(data: RunView) -> Outcome:
    found = record_stats(data.records("disk-per-instance"))
    figures = tuple(s.figure() for s in found.values())
    container = found.get((CONTAINER, "bytes-after-work"))
    vm = found.get((VM, "bytes-after-work"))
    if container is None or vm is None:
        return missing("needs bytes-after-work of both a container and a VM", figures)
    placed = order(container, vm)
    verdict: Verdict = "supported" if placed == "below" else "not supported"
    reason = (
        f"Disk used by one more instance after the same work: container {with_interval(container)},"
        f" VM {with_interval(vm)}. Rule: the container's below the VM's, which it "
        + ("is." if placed == "below" else "is not.")
    )
    key = f"docker {num(container.median, 'B')} vs VM {num(vm.median, 'B')}"
    return Outcome(verdict, reason, figures, tuple(few_caveats(container, vm)), key)


# --- C6 density ----------------------------------------------------------------------------------


def density(data: RunView) -> Outcome:
    found = record_stats(r for r in data.records("density") if r.metric != "startup-s")
    starts = record_stats(data.records("density", "startup-s"))
    reasons = {r.platform: r.text for r in data.records("density", "stop-reason")}
    figures = [s.figure() for s in found.values()]
    figures += [s.figure(metric="startup-s (all instances)") for s in starts.values()]
    figures += [
        ClaimFigure(p, "stop-reason", None, None, None, "", 1, text=t) for p, t in reasons.items()
    ]
    container_count, vm_count = found.get((CONTAINER, "instances")), found.get((VM, "instances"))
    if container_count is None or vm_count is None:
        return missing("needs the instance count of both containers and VMs", figures)
    c, v = container_count.median, vm_count.median
    per = {p: found.get((p, "bytes-per-instance")) for p in (CONTAINER, VM)}
    parts = [
        f"{p}: {n:.0f} instances (stopped by {reasons.get(p, 'unknown')})"
        + (
            f", {num(b.median, 'B')} each, {2**30 / b.median:.3g} per GiB"
            if b and b.median > 0
            else ""
        )
        for p, n, b in ((CONTAINER, c, per[CONTAINER]), (VM, v, per[VM]))
    ]
    same_cap = c == v and reasons.get(CONTAINER) == reasons.get(VM)
    cb, vb = per[CONTAINER], per[VM]
    if c != v:
        verdict: Verdict = "supported" if c > v else "not supported"
        rule = "more containers than VMs started within the same limits"
    elif same_cap and cb is not None and vb is not None:
        verdict = "supported" if cb.median < vb.median else "not supported"
        rule = "both stopped at the same cap, so the memory each cost decides"
    else:
        verdict, rule = "not supported", "as many VMs as containers started"
    caveats = []
    if data.tcg and reasons.get(VM) == "deadline":
        caveats.append(
            "accel=tcg: the VMs hit the start-up deadline, and TCG boots slowly: under KVM"
            " more might have fit"
        )
    key = f"docker {c:.0f} vs VM {v:.0f} instances"
    reason = "; ".join(parts) + f". Rule: {rule}."
    return Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


# --- C11 visibility ------------------------------------------------------------------------------


def visibility(data: RunView) -> Outcome:
    found = record_stats(data.records("visibility"))
    figures = tuple(s.figure() for s in found.values())
    seen = {p: _sees_more(found, p) for p in (CONTAINER, VM)}
    if seen[CONTAINER] is None:
        return missing(
            "needs nproc or the memory total inside a container, and its limits", figures
        )
    over = seen[CONTAINER]
    verdict: Verdict = "supported" if over else "not supported"
    reason = "Inside the container: " + _visible_text(found, CONTAINER)
    if seen[VM] is not None:
        reason += "; inside the VM: " + _visible_text(found, VM)
    reason += (
        ". Rule: supported when the container sees more CPUs or memory than its limits"
        f" (memory: more than {OVER_LIMIT:g}x)."
    )
    caveats = []
    if seen[VM]:
        caveats.append("the VM, too, sees more than its limits: check its domain's settings")
    key = "docker: " + _visible_text(found, CONTAINER)
    return Outcome(verdict, reason, figures, tuple(caveats), key)


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


def _visible_text(found: Mapping[tuple[str, str], Stat], platform: str) -> str:
    def value(metric: str, unit: str = "") -> str:
        s = found.get((platform, metric))
        return "-" if s is None else num(s.median, unit)

    return (
        f"nproc {value('nproc')} for {value('limit-vcpus')} vCPUs set,"
        f" memory total {value('mem-total-bytes', 'B')} for a"
        f" {value('limit-memory-bytes', 'B')} limit"
    )
