"""What marks a thing as vcbench's: run ids, names, labels, metadata, the run's work directory.

gc relies on these alone, so every platform takes its names from here and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from bench.core import paths

PREFIX = "vcbench-"
RUN_LABEL = "vcbench.run"  # Docker label key; the value is the run id
INSTANCE_LABEL = "vcbench.instance"
METADATA_URI = "urn:vcbench:run:1"  # libvirt <metadata> namespace (an identifier, not fetched)
METADATA_PREFIX = "vcbench"

RUN_ID_PATTERN = r"\d{8}-\d{6}-[0-9a-f]{6}"  # what new_run_id makes
_RUN_ID = re.compile(rf"^{RUN_ID_PATTERN}$")
_NAME = re.compile(rf"^{PREFIX}(?P<run>{RUN_ID_PATTERN})(?:-[a-z0-9-]+)?$")


def new_run_id() -> str:
    """Sortable by time, unique enough that two runs started in the same second differ."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID.match(text))


def resource_name(run_id: str, *parts: str) -> str:
    """vcbench-<run-id>-<parts...>: the name prefix gc and the leak checks look for."""
    return "-".join([PREFIX + run_id, *parts])


def run_of(name: str) -> str | None:
    """The run id a vcbench-made name carries, or None for anything vcbench did not name."""
    match = _NAME.match(name)
    return match.group("run") if match else None


def runs_root() -> Path:
    """Per-run work directories (overlays, console logs) live here; gc scans it."""
    return paths.state_dir() / "runs"


def owners_dirs() -> list[Path]:
    """Where runs record their owning process: the host-wide directory first, then this
    user's own. Root writes the host-wide one; others write there if root made it for all
    (sticky, like /tmp), else their own. gc reads them all, so liveness is judged the same
    whatever HOME or XDG_STATE_HOME the caller has."""
    system = paths.SYSTEM_RUNTIME / "owners"
    own = paths.runtime_dir() / "owners"
    return [system] if own == system else [system, own]


def _owners_dir_to_write() -> Path:
    system, *own = owners_dirs()
    if paths.is_root():
        return paths.shared_dir(system, 0o1777)
    if os.access(system, os.W_OK | os.X_OK):
        return system
    return paths.shared_dir(own[0])


def owner_path(run_id: str) -> Path:
    """The owner record a live run keeps, wherever it was written."""
    candidates = [d / f"{run_id}.json" for d in owners_dirs()]
    return next((c for c in candidates if c.is_file()), candidates[0])


@dataclass(frozen=True)
class RunContext:
    """One run: its id, its work dir (overlays, chroot upper dirs) and where logs go."""

    run_id: str
    work_dir: Path
    log_dir: Path

    @classmethod
    def create(cls, run_id: str | None = None, log_dir: Path | None = None) -> RunContext:
        """Make the work dir and claim the run for this process, so gc knows it is alive."""
        rid = run_id or new_run_id()
        work = runs_root() / rid
        _write_owner(rid, work)
        paths.shared_dir(work)  # QEMU's user opens overlays in it
        logs = log_dir or work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return cls(rid, work, logs)

    def instance_dir(self, instance: str) -> Path:
        return paths.shared_dir(self.work_dir / "instances" / instance)


def _write_owner(run_id: str, work: Path) -> None:
    """Written before the work dir exists: gc never sees a run's things without its owner."""
    pid = os.getpid()
    owner = {"pid": pid, "start": process_start(pid), "boot": paths.boot_id(), "work": str(work)}
    with paths.atomic_path(_owners_dir_to_write() / f"{run_id}.json") as tmp:
        tmp.write_text(json.dumps(owner))
        tmp.chmod(0o644)  # gc run by anyone reads it


def _owners() -> dict[str, dict[str, object]]:
    """Every owner record on the host that this user can read, by run id."""
    found: dict[str, dict[str, object]] = {}
    for directory in reversed(owners_dirs()):  # the host-wide record wins
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            try:
                record = {**json.loads(path.read_text()), "path": str(path)}
                found[path.stem] = {**record, "uid": path.stat().st_uid}
            except (OSError, ValueError, TypeError):
                continue
    return {run_id: owner for run_id, owner in found.items() if is_run_id(run_id)}


def runs_roots() -> list[Path]:
    """runs_root() and wherever else a recorded run put its work dir (another user's
    XDG_STATE_HOME, say): gc looks in all of them. Only records written by root or by the
    caller count here: anyone may write to the sticky directory, but not steer gc's removals."""
    roots = [runs_root()]
    for owner in _owners().values():
        root = Path(str(owner.get("work", ""))).parent
        trusted = owner["uid"] in (0, os.geteuid())
        if trusted and root.is_absolute() and root not in roots:
            roots.append(root)
    return roots


def forget_dead_owners() -> None:
    """Drop the records of dead runs that left nothing in their work dir (as gc's last step)."""
    for owner in _owners().values():
        instances = Path(str(owner.get("work", ""))) / "instances"
        if not _is_alive(owner) and not (instances.is_dir() and any(instances.iterdir())):
            try:
                Path(str(owner["path"])).unlink(missing_ok=True)
            except OSError:
                continue  # another user's record in the sticky directory: theirs to drop


def process_start(pid: int) -> str:
    """The process's start time in clock ticks: with the pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def run_is_alive(run_id: str) -> bool:
    """True while the process that created the run still runs (same host boot)."""
    try:
        owner = json.loads(owner_path(run_id).read_text())
    except (OSError, ValueError):
        return False
    return _is_alive(owner)


def _is_alive(owner: dict[str, object]) -> bool:
    if owner.get("boot") != paths.boot_id():
        return False
    pid = owner.get("pid", 0)
    return isinstance(pid, int) and pid > 0 and process_start(pid) == owner.get("start")
