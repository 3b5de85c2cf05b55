"""The host as a whole: what every platform's trial costs the machine, the same way for all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import psutil

from bench.collectors.records import Field, counter, gauge


def busy_s(times: Any) -> float:
    """Busy CPU seconds over all CPUs from a psutil cpu_times() tuple.

    Idle and iowait are not work; steal is time the hypervisor gave someone else. On Linux
    the user and nice figures already include guest and guest_nice: counting those again
    would count a VM's vCPUs twice."""
    fields = times._asdict()
    not_busy = ("idle", "iowait", "steal", "guest", "guest_nice")
    return float(sum(v for k, v in fields.items() if k not in not_busy))


class HostSource:
    name = "host"
    fields: ClassVar[Mapping[str, Field]] = {
        "cpu_s": counter("s", "busy CPU time summed over all host CPUs"),
        "mem_used_bytes": gauge("B", "psutil virtual_memory().used"),
        "mem_available_bytes": gauge("B", "MemAvailable: what can be had without swapping"),
        "disk_read_bytes": counter("B", "read from whole disks (partitions left out)"),
        "disk_write_bytes": counter("B", "written to whole disks (partitions left out)"),
    }

    def read(self) -> dict[str, float]:
        memory = psutil.virtual_memory()
        values = {
            "cpu_s": busy_s(psutil.cpu_times()),
            "mem_used_bytes": float(memory.used),
            "mem_available_bytes": float(memory.available),
        }
        disks = psutil.disk_io_counters(perdisk=False)
        if disks is not None:  # a host without block devices (some containers) has none
            values["disk_read_bytes"] = float(disks.read_bytes)
            values["disk_write_bytes"] = float(disks.write_bytes)
        return values
