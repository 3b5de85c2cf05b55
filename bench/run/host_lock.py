"""One run measures the host at a time; a busy host is recorded, not hidden."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.core import paths
from bench.core.errors import BenchError
from bench.platforms.labels import RUN_LABEL, run_of

SYSTEM_LOCK = Path("/run/lock/vcbench.lock")  # one per host, whoever runs it
BUSY_LOAD_PER_CPU = 0.5


def lock_path() -> Path:
    return (
        SYSTEM_LOCK if os.access(SYSTEM_LOCK.parent, os.W_OK) else paths.state_dir() / "host.lock"
    )


@contextlib.contextmanager
def host_lock(run_id: str, path: Path | None = None) -> Iterator[None]:
    """Held for the whole run; a second run refuses at once, naming the holder."""
    where = path or lock_path()
    where.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(where, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(where)
            raise BenchError(
                f"another vcbench run holds the host ({holder}): two runs would measure each other",
                "wait for it to finish, or stop it",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "run": run_id}).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def _holder(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
        return f"run {data['run']}, pid {data['pid']}"
    except (OSError, ValueError, KeyError):
        return "unknown holder"


def busy_reasons(docker_client: Any = None, libvirt_conn: Any = None) -> list[str]:
    """What else is running that could disturb the figures."""
    reasons = []
    load = os.getloadavg()[0]
    cpus = len(os.sched_getaffinity(0))
    if load > BUSY_LOAD_PER_CPU * cpus:
        reasons.append(f"load average {load:.2f} on {cpus} CPUs")
    if docker_client is not None:
        reasons.extend(_foreign("container(s)", lambda: _foreign_containers(docker_client)))
    if libvirt_conn is not None:
        reasons.extend(_foreign("VM(s)", lambda: _foreign_domains(libvirt_conn)))
    return reasons


def _foreign_containers(client: Any) -> list[str]:
    return [c.name for c in client.containers.list() if RUN_LABEL not in (c.labels or {})]


def _foreign_domains(conn: Any) -> list[str]:
    return [d.name() for d in conn.listAllDomains() if d.isActive() and run_of(d.name()) is None]


def _foreign(what: str, names: Callable[[], list[str]]) -> list[str]:
    """The busy-host reason for what else runs, or why that could not be asked: a check that
    failed must say so, not pass as "nothing else running"."""
    try:
        found = names()
    except Exception as exc:  # the SDKs raise their own types (docker errors, libvirtError)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [f"could not list other {what}: {type(exc).__name__}: {first}"]
    return [f"{len(found)} other {what} running: {', '.join(found[:5])}"] if found else []
