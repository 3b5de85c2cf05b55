"""The claims, the shape of a verdict, and what to run when a claim was not measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from bench.analysis.claims.references import Published

Verdict = Literal[
    "supported",
    "not supported",
    "partly supported",
    "inconclusive",
    "not measurable here",
    "not measured in this run",
]
VERDICTS: Final[tuple[Verdict, ...]] = (
    "supported",
    "not supported",
    "partly supported",
    "inconclusive",
    "not measurable here",
    "not measured in this run",
)
UNMEASURED: Final = ("not measured in this run", "not measurable here")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    method: str  # how it is measured


CLAIMS: Final[tuple[Claim, ...]] = (
    Claim(
        "C1",
        "Containers share the host kernel; a VM runs its own",
        "`uname -r` inside each platform vs the host",
    ),
    Claim(
        "C2",
        "Container images are MB-sized; a VM needs a GB-sized guest OS",
        "image size (docker image inspect) vs the VM's disk (allocated bytes) + kernel +"
        " initramfs, both from the same userland",
    ),
    Claim(
        "C3",
        "Containers start much faster than VMs, deployment in seconds",
        "start-up latency to the in-guest ready marker, p50/p95 over repeats, warm and cold",
    ),
    Claim(
        "C4",
        "Containers use less RAM; a VM holds its memory",
        "idle and loaded memory per instance: container cgroup usage vs the QEMU process's"
        " RSS/PSS, and the host-level delta",
    ),
    Claim(
        "C5",
        "Containers use less disk",
        "disk used per extra instance after the same work: the container's writable layer"
        " vs the VM's qcow2 overlay",
    ),
    Claim(
        "C6",
        "Density: more containers than VMs fit on one host",
        "start idle instances of each until a memory budget or a start-up deadline is hit;"
        " instances per GiB",
    ),
    Claim(
        "C7",
        "Elasticity: container resources can be grown and shrunk quickly",
        "time for a live CPU or memory limit change to take effect inside (docker update vs"
        " libvirt setVcpus/setMemory with the balloon)",
    ),
    Claim(
        "C8",
        "VMs carry a real performance overhead; full virtualisation is slow",
        "CPU, memory bandwidth, disk IOPS, network throughput and latency: ratio to native"
        " with its interval",
    ),
    Claim(
        "C9",
        "Para-virtualisation is faster than full virtualisation but still slower than"
        " the real machine",
        "the disk and network workloads with virtio devices vs emulated ones, and vs native",
    ),
    Claim(
        "C10",
        "Containers isolate less: one misbehaving tenant can hurt the others",
        "a victim's slowdown while a noisy neighbour (stress-ng cpu/memory/io) runs in a"
        " sibling container vs a sibling VM, same limits",
    ),
    Claim(
        "C11",
        "A container's processes believe they own the machine",
        "what nproc and free report inside each platform vs the limits set",
    ),
    Claim(
        "C12",
        "An orchestrator restores and scales containers in seconds; a VM's recovery costs its boot",
        "Docker Swarm on two nodes (the host's dockerd and a second one in a network"
        " namespace): a killed task until its replacement answers, 1 -> N replicas until all"
        " answer, node failure, a rolling update; the VM crashed until READY again, and 1 -> N"
        " VMs until all READY",
    ),
    Claim(
        "C13",
        "A user-space kernel sandbox (gVisor) costs less than a VM at start-up but more on"
        " system-call-heavy work",
        "start-up latency (warm, cold) and a system-call microbenchmark (syscall-small-io:"
        " 100,000 one-byte read/write calls) on gvisor against libvirt, from the same rootfs",
    ),
)

# What to run when a claim's data is missing from a run.
HOW: Final = {
    "C1": "vcbench run --experiments kernel",
    "C2": "vcbench run --experiments image-size",
    "C3": "vcbench run --suite full (the startup-warm and startup-cold workloads on docker and"
    " libvirt)",
    "C4": "vcbench run --experiments memory (or a suite with the idle-footprint workload)",
    "C5": "vcbench run --experiments disk-per-instance",
    "C6": "vcbench run --experiments density",
    "C7": "vcbench run --experiments elasticity",
    "C8": "vcbench run --suite full on native, docker and libvirt, on a host where KVM works",
    "C9": "vcbench run --vm-profile default,emulated (the disk and network workloads)",
    "C10": "vcbench run --experiments isolation",
    "C11": "vcbench run --experiments visibility",
    "C12": "vcbench run --experiments orchestration (docker and libvirt)",
    "C13": "vcbench run --suite quick (its platforms include gvisor; runsc installed by"
    " `vcbench host setup`)",
}
EXPERIMENT_OF: Final = {
    "C1": "kernel",
    "C2": "image-size",
    "C4": "memory",
    "C5": "disk-per-instance",
    "C6": "density",
    "C7": "elasticity",
    "C10": "isolation",
    "C11": "visibility",
    "C12": "orchestration",
}


@dataclass(frozen=True)
class ClaimFigure:
    """One figure behind a verdict: a median with its 95% interval (None where there is
    none: one repeat, or a value that is text)."""

    platform: str
    metric: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    n: int
    text: str = ""  # a value that is text (a kernel release, a stop reason)
    note: str = ""  # what else to know: a ratio, a verdict against native


@dataclass(frozen=True)
class ClaimVerdict:
    id: str
    claim: str
    verdict: Verdict
    reason: str
    method: str = ""
    figures: tuple[ClaimFigure, ...] = ()
    caveats: tuple[str, ...] = ()
    references: tuple[Published, ...] = ()
    how: str = ""  # what to run to measure it, when this run did not
    key: str = ""  # the deciding figures in a few words (a terminal line's worth)

    @property
    def measured(self) -> bool:
        return self.verdict not in UNMEASURED


@dataclass(frozen=True)
class Finding:
    """What a claim's rule found, before the common parts are added."""

    verdict: Verdict
    reason: str
    figures: tuple[ClaimFigure, ...] = ()
    caveats: tuple[str, ...] = ()
    key: str = ""  # the deciding figures in a few words
