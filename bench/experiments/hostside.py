"""What an instance costs, read from the host: bytes on disk, processes' memory, MemAvailable.

The parsers are pure (tested on text); the readers open /proc and the files themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.core.errors import PlatformError
from bench.host.procfs import PROC, parse_smaps_rollup, read_stat, read_text


def allocated_bytes(path: Path) -> int:
    """Bytes the filesystem gave a file, or every file under a directory (each inode once,
    symlinks not followed): a sparse disk image counts what it holds, not its length."""
    if not path.is_dir():
        return path.lstat().st_blocks * 512
    seen: set[tuple[int, int]] = set()
    total = path.lstat().st_blocks * 512
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def rss_bytes(pid: int, proc: Path = PROC) -> int:
    return read_stat(pid, proc).rss_bytes


def pss_bytes(pids: list[int], proc: Path = PROC) -> int:
    """The processes' proportional set size summed (shared pages split among their sharers):
    what the host would get back were they gone. Reading another user's smaps needs root."""
    try:
        return sum(
            parse_smaps_rollup(read_text(proc / str(p) / "smaps_rollup"))["Pss"] for p in pids
        )
    except PermissionError:
        raise PlatformError("reading another process's PSS needs root") from None


@dataclass(frozen=True)
class Mapping:
    size: int  # bytes of address space
    rss: int  # bytes of it resident
    path: str  # '' for anonymous memory
    perms: str = "rw-p"


def parse_smaps(text: str) -> list[Mapping]:
    """/proc/<pid>/smaps -> each mapping's size, resident bytes and backing path."""
    found: list[Mapping] = []
    size = rss = 0
    path: str | None = None
    perms = ""
    for line in text.splitlines():
        first, _, rest = line.partition(" ")
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            if path is not None:
                found.append(Mapping(size, rss, path, perms))
            parts = rest.split(maxsplit=4)
            path, size, rss, perms = (parts[4] if len(parts) > 4 else ""), 0, 0, parts[0]
        elif first == "Size:":
            size = int(rest.split()[0]) * 1024
        elif first == "Rss:":
            rss = int(rest.split()[0]) * 1024
    if path is not None:
        found.append(Mapping(size, rss, path, perms))
    return found


def guest_ram_mapping(mappings: list[Mapping], guest_bytes: int) -> Mapping:
    """QEMU's guest RAM: its one anonymous, writable, not executable mapping at least as large
    as the guest's memory (QEMU may pad it for alignment: a few MiB at most). Under TCG the
    translated-code buffer is about as large (1 GiB), but executable: never taken for it."""
    candidates = [
        m
        for m in mappings
        if not m.path
        and m.perms.startswith("rw")
        and "x" not in m.perms
        and guest_bytes <= m.size <= guest_bytes + 64 * 2**20
    ]
    if not candidates:
        raise PlatformError(f"no anonymous mapping of {guest_bytes >> 20} MiB in QEMU's smaps")
    return max(candidates, key=lambda m: m.rss)


@dataclass(frozen=True)
class QemuMemory:
    rss: int  # all of QEMU's resident memory
    guest_backed: int  # the guest RAM of it actually backed
    code_buffer: int  # resident translated code (TCG's executable anonymous memory)

    @property
    def overhead(self) -> int:
        """What the VMM itself holds (device models, emulation, libraries, under TCG its
        translated code), as Firecracker measures its overhead: RSS minus backed guest RAM."""
        return self.rss - self.guest_backed


def qemu_memory(pid: int, guest_bytes: int, proc: Path = PROC) -> QemuMemory:
    mappings = parse_smaps(read_text(proc / str(pid) / "smaps"))
    return QemuMemory(
        sum(m.rss for m in mappings),
        guest_ram_mapping(mappings, guest_bytes).rss,
        sum(m.rss for m in mappings if not m.path and "x" in m.perms),
    )


def ancestor_named(pid: int, word: str, hops: int = 4) -> psutil.Process:
    """The nearest ancestor of pid whose name holds word (a container's containerd shim)."""
    process = psutil.Process(pid).parent()
    for _ in range(hops):
        if process is None:
            break
        if word in process.name():
            return process
        process = process.parent()
    raise PlatformError(f"no {word} process above pid {pid}")
