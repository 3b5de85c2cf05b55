"""Live resize helpers for the VM: vCPU pinning after a hotplug, and onlining the new vCPUs.

A hotplugged vCPU reaches the guest kernel through ACPI and stays offline until something
writes its `online` file: udev in a full distribution, the guest agent here (no udev).
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

from bench.core.errors import PlatformError

ONLINE_TIMEOUT_S = 30.0  # ACPI hotplug under TCG takes a moment; never wait unbounded


class Agent(Protocol):
    def command(self, execute: str, timeout: int = ..., **arguments: Any) -> Any: ...


def cpumap(cpus: tuple[int, ...], host_cpus: int | None = None) -> tuple[bool, ...]:
    """libvirt's CPU map: one flag per host CPU."""
    total = host_cpus or os.cpu_count() or 1
    return tuple(cpu in cpus for cpu in range(total))


def pin(domain: Any, cpuset: tuple[int, ...]) -> None:
    """vCPU i on the i-th CPU of the cpuset, the emulator on all of them: as at boot."""
    import libvirt

    live = libvirt.VIR_DOMAIN_AFFECT_LIVE
    for vcpu, cpu in enumerate(cpuset):
        domain.pinVcpuFlags(vcpu, cpumap((cpu,)), live)
    domain.pinEmulator(cpumap(cpuset), live)


def offline_ids(vcpus: list[dict[str, Any]]) -> list[int]:
    return [int(v["logical-id"]) for v in vcpus if not v.get("online")]


def online_count(vcpus: list[dict[str, Any]]) -> int:
    return sum(1 for v in vcpus if v.get("online"))


def online_vcpus(
    agent: Agent, wanted: int, deadline: float, clock: Any = time.perf_counter
) -> None:
    """Wait until the guest knows `wanted` vCPUs and online the offline ones (bounded)."""
    while True:
        vcpus = agent.command("guest-get-vcpus")
        if online_count(vcpus) >= wanted:
            return
        if clock() >= deadline:
            raise PlatformError(
                f"the guest shows {online_count(vcpus)} of {wanted} vCPUs online after the hotplug",
                "the guest kernel may lack ACPI CPU hotplug; start with the vCPUs you need",
            )
        missing = offline_ids(vcpus)
        if missing:  # present but offline: what udev would online
            agent.command(
                "guest-set-vcpus", vcpus=[{"logical-id": i, "online": True} for i in missing]
            )
        else:  # not yet announced by ACPI
            time.sleep(0.02)
