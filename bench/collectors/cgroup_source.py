"""A cgroup's own figures: a container's (found through its init process) or a native
instance's memory cgroup. Read from the cgroup files only: Docker's stats API would cost
1-2 s a call here, and would not be the same figures as the native instance's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from bench.collectors.proctree import ProcessSet
from bench.collectors.records import Field, counter, gauge
from bench.core.errors import PlatformError
from bench.host.cgroupfs import (
    CgroupDir,
    CgroupDirs,
    parse_blkio_bytes,
    parse_io_stat,
    parse_keyed,
)
from bench.host.procfs import read_text

# memory.stat keys for anonymous and page-cache memory; v1 'total_' ones include child cgroups,
# as memory.usage_in_bytes does.
_V1_ANON = ("total_rss", "rss")
_V1_FILE = ("total_cache", "cache")
_V1_BLKIO = "blkio.throttle.io_service_bytes"


class CgroupSource:
    name = "cgroup"
    fields: ClassVar[Mapping[str, Field]] = {
        "mem_bytes": gauge("B", "memory charged to the cgroup (v1 usage_in_bytes, v2 current)"),
        "anon_bytes": gauge("B", "anonymous memory (v1 rss, v2 anon)"),
        "file_bytes": gauge("B", "page cache (v1 cache, v2 file)"),
        "cpu_s": counter("s", "CPU time of the cgroup, or of its processes without cpuacct"),
        "read_bytes": counter("B", "block reads; only once the kernel counts any"),
        "write_bytes": counter("B", "block writes; only once the kernel counts any"),
    }

    def __init__(self, dirs: CgroupDirs, processes: ProcessSet | None = None) -> None:
        """processes: counts CPU when dirs has no cpu directory (a v1 memory-only cgroup)."""
        self.dirs = usable(dirs)
        if self.dirs.memory is None and self.dirs.cpu is None and processes is None:
            raise PlatformError(f"no cgroup memory or cpu figures to read in {dirs}")
        self._processes = processes if self.dirs.cpu is None else None
        # Block counters read 0 on hosts whose block layer the blkio controller does not see
        # (this one): reporting them before they ever move would claim "no I/O".
        self._io_counts = False

    def read(self) -> dict[str, float]:
        values: dict[str, float] = {}
        if self.dirs.memory is not None:
            values.update(_memory(self.dirs.memory))
        if self.dirs.cpu is not None:
            values["cpu_s"] = _cpu_s(self.dirs.cpu)
        elif self._processes is not None:
            values["cpu_s"] = self._processes.read()[0]
        if self.dirs.io is not None:
            read, write = _io(self.dirs.io)
            self._io_counts = self._io_counts or read + write > 0
            if self._io_counts:
                values["read_bytes"], values["write_bytes"] = float(read), float(write)
        return values


# The file each part is read from: a v2 directory has memory.current or io.stat only where the
# parent enabled that controller for it, and cpu.stat always.
_FILES: dict[str, dict[int, str]] = {
    "memory": {1: "memory.usage_in_bytes", 2: "memory.current"},
    "cpu": {1: "cpuacct.usage", 2: "cpu.stat"},
    "io": {1: _V1_BLKIO, 2: "io.stat"},
}


def usable(dirs: CgroupDirs) -> CgroupDirs:
    """dirs without the parts whose file this host does not have: better no field than a
    source that fails on its first read and is dropped whole."""

    def check(part: str, where: CgroupDir | None) -> CgroupDir | None:
        if where is None or not (where.path / _FILES[part][where.version]).exists():
            return None
        return where

    return CgroupDirs(check("memory", dirs.memory), check("cpu", dirs.cpu), check("io", dirs.io))


def _memory(where: CgroupDir) -> dict[str, float]:
    if where.version == 1:
        usage = int(read_text(where.path / "memory.usage_in_bytes"))
        stat = parse_keyed(read_text(where.path / "memory.stat"))
        anon, file = _first(stat, _V1_ANON), _first(stat, _V1_FILE)
    else:
        usage = int(read_text(where.path / "memory.current"))
        stat = parse_keyed(read_text(where.path / "memory.stat"))
        anon, file = stat.get("anon", 0), stat.get("file", 0)
    return {"mem_bytes": float(usage), "anon_bytes": float(anon), "file_bytes": float(file)}


def _first(stat: dict[str, int], keys: tuple[str, ...]) -> int:
    return next((stat[k] for k in keys if k in stat), 0)


def _cpu_s(where: CgroupDir) -> float:
    if where.version == 1:
        return int(read_text(where.path / "cpuacct.usage")) / 1e9
    return parse_keyed(read_text(where.path / "cpu.stat"))["usage_usec"] / 1e6


def _io(where: CgroupDir) -> tuple[int, int]:
    if where.version == 1:
        return parse_blkio_bytes(read_text(where.path / _V1_BLKIO))
    return parse_io_stat(read_text(where.path / "io.stat"))


class ProcessSource:
    """A native instance the host gave no memory cgroup: its tagged processes, summed."""

    name = "procs"
    fields: ClassVar[Mapping[str, Field]] = {
        "cpu_s": counter("s", "CPU time of the instance's processes, the departed included"),
        "rss_bytes": gauge("B", "sum of their RSS (shared pages once per process)"),
    }

    def __init__(self, processes: ProcessSet) -> None:
        self._processes = processes

    def read(self) -> dict[str, float]:
        cpu, rss = self._processes.read()
        return {"cpu_s": cpu, "rss_bytes": rss}
