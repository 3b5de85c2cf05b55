"""Finding a process's cgroup directories and parsing cgroup files, v1 and v2.

Everything here but locate() is pure: tested on text written in the tests. Paths come from
/proc/<pid>/cgroup and /proc/self/mountinfo, not from a guess about the cgroup driver, so
Docker's cgroupfs and systemd drivers and hybrid (v1 + unified) hosts all resolve alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from bench.host.procfs import PROC, read_text

Version = Literal[1, 2]
# The v1 controller each part is read from; on v2 every part is in the one unified directory.
V1_CONTROLLERS = {"memory": "memory", "cpu": "cpuacct", "io": "blkio"}


@dataclass(frozen=True)
class CgroupDir:
    path: Path
    version: Version


@dataclass(frozen=True)
class CgroupDirs:
    memory: CgroupDir | None
    cpu: CgroupDir | None
    io: CgroupDir | None


@dataclass(frozen=True)
class CgroupMount:
    root: str  # the cgroup path mounted here ('/' unless a namespace or bind shifted it)
    mountpoint: str
    version: Version
    controllers: frozenset[str]  # v1 only: those named in the super options


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup -> controller -> path; the unified (v2) entry is under ''."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            out[controller] = path
    return out


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup and cgroup2 mounts of a mountinfo file, in its order."""
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        version: Version = 2 if tail[0] == "cgroup2" else 1
        controllers = frozenset(tail[2].split(",")) if version == 1 else frozenset()
        mounts.append(CgroupMount(_unescape(fields[3]), _unescape(fields[4]), version, controllers))
    return mounts


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    if "\\" not in text:
        return text
    return text.encode().decode("unicode_escape").encode("latin-1").decode()


def cgroup_dirs(proc_cgroup: str, mountinfo: str) -> CgroupDirs:
    """Where a process's memory, cpu and io figures are: a v1 controller's directory where
    the host mounts that controller (hybrid hosts keep them there), else the unified one."""
    paths = parse_proc_cgroup(proc_cgroup)
    mounts = parse_mountinfo(mountinfo)

    def find(part: str) -> CgroupDir | None:
        controller = V1_CONTROLLERS[part]
        if controller in paths:
            v1 = [m for m in mounts if m.version == 1 and controller in m.controllers]
            found = _resolve(paths[controller], v1)
            if found is not None:
                return CgroupDir(found, 1)
        if "" in paths:
            found = _resolve(paths[""], [m for m in mounts if m.version == 2])
            if found is not None:
                return CgroupDir(found, 2)
        return None

    return CgroupDirs(find("memory"), find("cpu"), find("io"))


def _resolve(path: str, mounts: list[CgroupMount]) -> Path | None:
    wanted = PurePosixPath(path)
    for mount in mounts:
        root = PurePosixPath(mount.root)
        if wanted == root or root in wanted.parents:
            return Path(mount.mountpoint) / wanted.relative_to(root)
    return None


def locate(pid: int, proc: Path = PROC) -> CgroupDirs:
    """The cgroup directories of a live process, seen from this process's mounts."""
    return cgroup_dirs(read_text(proc / str(pid) / "cgroup"), read_text(proc / "self/mountinfo"))


def parse_keyed(text: str) -> dict[str, int]:
    """Flat keyed files: memory.stat (v1 and v2), cpu.stat, cpuacct.stat: 'key value' lines."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            out[key] = int(value)
    return out


def parse_blkio_bytes(text: str) -> tuple[int, int]:
    """v1 blkio.*io_service_bytes: 'MAJ:MIN Read N' lines -> (read, write) over all devices.
    The closing 'Total N' line (no device) is a sum of what was already counted."""
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        if parts[1] == "Read":
            read += int(parts[2])
        elif parts[1] == "Write":
            write += int(parts[2])
    return read, write


def parse_io_stat(text: str) -> tuple[int, int]:
    """v2 io.stat: 'MAJ:MIN rbytes=N wbytes=N rios=N ...' lines -> (read, write) bytes."""
    read = write = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write
