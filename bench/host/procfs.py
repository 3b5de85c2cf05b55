"""/proc files of one process, parsed by pure functions (tested on text) and read raw."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    """The parts of /proc/<pid>/stat the collectors use, in seconds and bytes."""

    ppid: int
    start_ticks: int  # since boot: with the pid, it names one process across pid reuse
    user_s: float
    system_s: float
    children_s: float  # user + system of the children it waited for (and theirs, recursively)
    rss_bytes: int
    state: str = ""  # R, S, D, Z...
    pgrp: int = 0  # its process group

    @property
    def own_s(self) -> float:
        return self.user_s + self.system_s


def parse_stat(text: str, clk_tck: int = CLK_TCK, page_size: int = PAGE_SIZE) -> ProcStat:
    # The command name (field 2) sits in parentheses and may itself hold spaces and
    # parentheses: everything after the last ')' is fields 3 onwards.
    rest = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return ProcStat(
        ppid=int(rest[1]),
        start_ticks=int(rest[19]),
        user_s=utime / clk_tck,
        system_s=stime / clk_tck,
        children_s=(cutime + cstime) / clk_tck,
        rss_bytes=int(rest[21]) * page_size,
        state=rest[0],
        pgrp=int(rest[2]),
    )


def parse_io(text: str) -> dict[str, int]:
    """/proc/<pid>/io: 'read_bytes: N' lines (read_bytes/write_bytes: what reached storage)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value:
            out[key.strip()] = int(value)
    return out


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup -> bytes per key ('Rss', 'Pss', 'Private_Dirty', ...)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith(":") and parts[2] == "kB":
            out[parts[0][:-1]] = int(parts[1]) * 1024
    return out


def read_stat(pid: int, proc: Path = PROC) -> ProcStat:
    return parse_stat(read_text(proc / str(pid) / "stat"))


def read_text(path: Path) -> str:
    # open/read/close every time: /proc and cgroup files are generated on read, and keeping
    # descriptors open would make every source something to close.
    with open(path) as file:
        return file.read()
