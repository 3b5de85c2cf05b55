"""The QEMU process behind a libvirt domain, seen from the host: what the VM costs the host,
vCPUs, emulation, I/O threads and device models together."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import psutil

from bench.collectors.records import Field, counter, gauge
from bench.core.errors import PlatformError
from bench.host.procfs import PROC, parse_io, parse_smaps_rollup, read_stat, read_text

PID_DIR = Path("/run/libvirt/qemu")
# PSS and USS walk QEMU's page tables: ~1 ms of kernel time per read for a 384 MiB guest here,
# under QEMU's mmap lock. Once a second is plenty for two gauges; RSS comes every tick for free.
ROLLUP_PERIOD_S = 1.0


def is_qemu_of(cmdline: Sequence[str], domain: str) -> bool:
    """libvirt names the guest in '-name guest=<name>,debug-threads=on'."""
    wanted = f"guest={domain}"
    return (
        any(arg == wanted or arg.startswith(wanted + ",") for arg in cmdline)
        and "qemu" in Path(cmdline[0]).name
    )


def qemu_pid(domain: str, pid_dir: Path = PID_DIR, proc: Path = PROC) -> int:
    """The pid libvirt wrote for the domain, checked against the process's command line (a
    stale file names someone else); else the qemu process that names the guest."""
    try:
        pid = int(read_text(pid_dir / f"{domain}.pid").strip())
        if is_qemu_of(_cmdline(pid, proc), domain):
            return pid
    except (OSError, ValueError):
        pass  # no file, or no such process: search
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and is_qemu_of(cmdline, domain):
            return int(process.pid)
    raise PlatformError(f"no QEMU process runs the domain {domain}")


def _cmdline(pid: int, proc: Path) -> list[str]:
    with open(proc / str(pid) / "cmdline", "rb") as file:
        return file.read().decode(errors="replace").rstrip("\0").split("\0")


class QemuSource:
    name = "qemu"
    fields: ClassVar[Mapping[str, Field]] = {
        "cpu_s": counter("s", "user + system time of all QEMU threads"),
        "rss_bytes": gauge("B", "resident memory of QEMU: guest RAM touched plus its own"),
        "pss_bytes": gauge("B", "RSS with shared pages split among sharers; once a second"),
        "uss_bytes": gauge("B", "memory only QEMU maps, what its exit frees; once a second"),
        "read_bytes": counter("B", "bytes QEMU made the host read from storage"),
        "write_bytes": counter("B", "bytes QEMU sent towards storage (page cache included)"),
    }

    def __init__(
        self,
        pid: int,
        proc: Path = PROC,
        rollup_period_s: float = ROLLUP_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pid = pid
        self._dir = proc / str(pid)
        self._proc = proc
        self._start = read_stat(pid, proc).start_ticks
        # smaps_rollup (Linux 4.14+) sums the memory map in the kernel; psutil's fallback
        # parses all of smaps in Python, far slower for a VM's many mappings.
        self._rollup = (self._dir / "smaps_rollup").exists()
        self._rollup_period_s = rollup_period_s
        self._clock = clock
        self._rollup_due = clock()

    @classmethod
    def for_domain(cls, domain: str) -> QemuSource:
        return cls(qemu_pid(domain))

    def read(self) -> dict[str, float]:
        stat = read_stat(self.pid, self._proc)
        if stat.start_ticks != self._start:
            raise PlatformError(f"QEMU process {self.pid} ended (its pid names another now)")
        values = {"cpu_s": stat.own_s, "rss_bytes": float(stat.rss_bytes)}
        now = self._clock()
        if now >= self._rollup_due:
            values.update(self._shared_memory())
            self._rollup_due = now + self._rollup_period_s
        io = parse_io(read_text(self._dir / "io"))
        values["read_bytes"] = float(io["read_bytes"])
        values["write_bytes"] = float(io["write_bytes"])
        return values

    def _shared_memory(self) -> dict[str, float]:
        if self._rollup:
            m = parse_smaps_rollup(read_text(self._dir / "smaps_rollup"))
            private = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
            return {"pss_bytes": float(m["Pss"]), "uss_bytes": float(private)}
        info = psutil.Process(self.pid).memory_full_info()
        return {"pss_bytes": float(info.pss), "uss_bytes": float(info.uss)}
