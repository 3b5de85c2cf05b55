"""CPU time of a changing set of processes, for when no cgroup counts it (a native instance on
a cgroup v1 host has a memory cgroup only; a host without memory cgroups has none at all).

Summing /proc/<pid>/stat of the live processes is not a counter: a process that exits takes
its time with it. The ledger keeps it: a process that left is kept at its last reading,
unless its parent is in the set, whose 'children' time then carries it once reaped. What
runs between a process's last reading and its exit (at most one tick) is lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from bench.host.procfs import PROC, ProcStat, read_stat

ProcKey = tuple[int, int]  # (pid, start ticks): one process, even when its pid is reused


class CpuLedger:
    """Pure bookkeeping: feed it the stats of the live set every tick, get a counter back."""

    def __init__(self) -> None:
        self._last: dict[ProcKey, ProcStat] = {}
        self._departed_s = 0.0
        self._high = 0.0

    def update(self, live: Mapping[ProcKey, ProcStat]) -> float:
        live_pids = {pid for pid, _ in live}
        for key, stat in self._last.items():
            if key not in live and stat.ppid not in live_pids:
                # Reaped outside the set (by the runner, by init): its time is nowhere else.
                self._departed_s += stat.own_s + stat.children_s
        self._last = dict(live)
        total = self._departed_s + sum(s.own_s + s.children_s for s in live.values())
        # A child that exited but is not reaped yet is briefly in no one's figure: hold the
        # counter until its parent's children time brings it back, never let it go down.
        self._high = max(self._high, total)
        return self._high


class ProcessSet:
    """The live processes pids() names, read from /proc: CPU seconds (a counter) and the sum
    of their RSS (a gauge; it counts shared pages once per process)."""

    def __init__(self, pids: Callable[[], Iterable[int]], proc: Path = PROC) -> None:
        self._pids = pids
        self._proc = proc
        self._ledger = CpuLedger()

    def read(self) -> tuple[float, float]:
        live: dict[ProcKey, ProcStat] = {}
        for pid in self._pids():
            try:
                stat = read_stat(pid, self._proc)
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended between the listing and the read: the ledger has it
            live[pid, stat.start_ticks] = stat
        rss = sum(s.rss_bytes for s in live.values())
        return self._ledger.update(live), float(rss)


def cgroup_pids(directory: Path) -> Callable[[], list[int]]:
    procs = directory / "cgroup.procs"

    def pids() -> list[int]:
        with open(procs) as file:
            return [int(line) for line in file.read().split()]

    return pids


class TaggedPids:
    """The processes whose environment holds VAR=value, as vcbench tags a native instance's.
    Each process's environment is read once, when first seen: the scan costs a listing."""

    def __init__(self, var: str, value: str, proc: Path = PROC) -> None:
        self._needle = f"\0{var}={value}\0".encode()
        self._proc = proc
        self._seen: dict[int, bool] = {}

    def __call__(self) -> list[int]:
        seen: dict[int, bool] = {}
        for entry in os.listdir(self._proc):
            if entry.isdigit():
                pid = int(entry)
                tagged = self._seen.get(pid)
                seen[pid] = self._tagged(pid) if tagged is None else tagged
        self._seen = seen
        return [pid for pid, tagged in seen.items() if tagged]

    def _tagged(self, pid: int) -> bool:
        try:
            with open(self._proc / str(pid) / "environ", "rb") as file:
                return self._needle in b"\0" + file.read()
        except OSError:
            return False  # gone, or a kernel thread
