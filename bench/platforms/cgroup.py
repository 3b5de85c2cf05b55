"""A memory cgroup for a native instance, where the host lets us make one.

Docker and the VM enforce the memory limit; natively only a cgroup can. What was really
enforced is recorded, never assumed: a host without a usable memory controller runs the
instance unlimited and says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from bench.platforms.labels import PREFIX

V1_MEMORY = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    limit_mib: int

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"


def memory_root() -> tuple[Path, str] | None:
    """Where memory cgroups are made on this host, and the limit file's name there."""
    if (V1_MEMORY / "memory.limit_in_bytes").exists():
        return V1_MEMORY, "memory.limit_in_bytes"
    controllers = V2_ROOT / "cgroup.subtree_control"
    if controllers.exists() and "memory" in controllers.read_text().split():
        return V2_ROOT, "memory.max"
    return None


def create(name: str, limit_mib: int) -> MemoryCgroup | None:
    """The cgroup with the limit written and read back, or None if the host cannot."""
    root = memory_root()
    if root is None:
        return None
    base, limit_file = root
    path = base / name
    try:
        path.mkdir()
        (path / limit_file).write_text(str(limit_mib * 2**20))
        # No swap beyond the limit, as in Docker (--memory-swap equal to --memory): v1 limits
        # memory+swap together, v2 counts swap apart (memory.swap.max 0 = none at all).
        swap = path / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(limit_mib * 2**20))
        swap_v2 = path / "memory.swap.max"
        if swap_v2.exists():
            swap_v2.write_text("0")
        enforced = int((path / limit_file).read_text()) // 2**20
    except OSError:
        remove(path)
        return None
    return MemoryCgroup(path, enforced)


def remove(path: Path, attempts: int = 50) -> None:
    """Kill whatever still runs in the cgroup, then remove it (a bounded wait)."""
    for _ in range(attempts):
        if not path.exists():
            return
        pids = pids_in(path)
        for pid in pids:
            _kill(pid)
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.02)
    path.rmdir()  # one last time, letting its error tell why


def pids_in(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def oom_kills(memory_dir: Path) -> int | None:
    """The cgroup's OOM-kill counter: v1 memory.oom_control, v2 memory.events."""
    for name in ("memory.oom_control", "memory.events"):
        try:
            text = (memory_dir / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None


def leftovers() -> list[Path]:
    """Every vcbench-named memory cgroup on the host, for gc."""
    root = memory_root()
    return sorted(root[0].glob(PREFIX + "*")) if root else []


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
