"""A libvirt domain's own statistics: vCPU time, the guest's view of its memory through the
balloon, and the virtual disk's bytes, in one getStats call per tick (a round trip each
to libvirtd otherwise: getCPUStats, vcpus, memoryStats and blockStats).

The balloon and block groups are QMP queries that QEMU answers on its main loop, which runs
on the vCPU's own host CPU (emulatorpin): at 10 Hz they cost QEMU ~3 % of a core, measured
here, against ~0.5 % for the CPU groups (libvirt reads those from cgroup and /proc). The
guest refreshes its balloon figures once a second anyway (<stats period='1'/>), so those two
groups are asked for at most once a second; the readings in between lack their fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from bench.collectors.records import Field, counter, gauge

DISK = "vda"  # the domain's one disk, as bench/platforms/domain.xml.j2 names it
KIB = 1024
QMP_PERIOD_S = 1.0  # the balloon's stats period in the domain XML
# balloon.* key -> field; libvirt reports them in KiB
_BALLOON = {
    "current": "actual_bytes",
    "rss": "rss_bytes",
    "unused": "unused_bytes",
    "available": "available_bytes",
    "usable": "usable_bytes",
}


class DomainSource:
    name = "libvirt"
    fields: ClassVar[Mapping[str, Field]] = {
        "cpu_s": counter("s", "CPU time libvirt accounts to the domain (cpu.time)"),
        "vcpu_s": counter("s", "time the vCPU threads ran, summed over vCPUs"),
        "vcpu_delay_s": counter("s", "time the vCPU threads waited, runnable, for a host CPU"),
        "actual_bytes": gauge("B", "memory the balloon leaves the guest"),
        "rss_bytes": gauge("B", "QEMU's resident memory as libvirt sees it"),
        "unused_bytes": gauge("B", "guest memory left unused (guest's view)"),
        "available_bytes": gauge("B", "guest memory the guest kernel sees in all"),
        "usable_bytes": gauge("B", "guest memory available without swapping (guest's view)"),
        "disk_read_bytes": counter("B", f"read by the guest from its disk {DISK}"),
        "disk_write_bytes": counter("B", f"written by the guest to its disk {DISK}"),
    }

    def __init__(
        self,
        domain: Any,
        disk: str = DISK,
        qmp_period_s: float = QMP_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import libvirt

        self._domain = domain
        self._conn = domain.connect()
        self._disk = disk
        self._cheap = libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_VCPU
        self._qmp = libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK
        self._qmp_period_s = qmp_period_s
        self._clock = clock
        self._qmp_due = clock()
        # Rather an incomplete reading than one that waits for another job on the domain
        # (an exec through the guest agent, a destroy): fields simply miss from that reading.
        self._flags = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT

    def read(self) -> dict[str, float]:
        groups = self._cheap
        now = self._clock()
        if now >= self._qmp_due:
            groups |= self._qmp
            self._qmp_due = now + self._qmp_period_s
        records = self._conn.domainListGetStats([self._domain], groups, self._flags)
        return parse_domain_stats(records[0][1], self._disk)


def parse_domain_stats(stats: Mapping[str, Any], disk: str = DISK) -> dict[str, float]:
    """A getStats record -> fields. Keys libvirt left out (the guest's balloon figures before
    its driver first reports, cpu.time without a cgroup) are left out too, not zeroed."""
    values: dict[str, float] = {}
    if "cpu.time" in stats:
        values["cpu_s"] = stats["cpu.time"] / 1e9
    vcpus = range(int(stats.get("vcpu.current", 0)))
    times = [stats[f"vcpu.{i}.time"] for i in vcpus if f"vcpu.{i}.time" in stats]
    if times:
        values["vcpu_s"] = sum(times) / 1e9
    delays = [stats[f"vcpu.{i}.delay"] for i in vcpus if f"vcpu.{i}.delay" in stats]
    if delays:
        values["vcpu_delay_s"] = sum(delays) / 1e9
    for key, name in _BALLOON.items():
        if f"balloon.{key}" in stats:
            values[name] = float(stats[f"balloon.{key}"] * KIB)
    for i in range(int(stats.get("block.count", 0))):
        if stats.get(f"block.{i}.name") == disk:
            if f"block.{i}.rd.bytes" in stats:
                values["disk_read_bytes"] = float(stats[f"block.{i}.rd.bytes"])
            if f"block.{i}.wr.bytes" in stats:
                values["disk_write_bytes"] = float(stats[f"block.{i}.wr.bytes"])
    return values
