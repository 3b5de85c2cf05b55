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

from bench import paths

PREFIX = "vcbench-"
RUN_LABEL = "vcbench.run"  # Docker label key; the value is the run id
INSTANCE_LABEL = "vcbench.instance"
METADATA_URI = "urn:vcbench:run:1"  # libvirt <metadata> namespace (an identifier, not fetched)
METADATA_PREFIX = "vcbench"
OWNER_FILE = "owner.json"

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


@dataclass(frozen=True)
class RunContext:
    """One run: its id, its work dir (overlays, chroot upper dirs) and where logs go."""

    run_id: str
    work_dir: Path
    log_dir: Path

    @classmethod
    def create(cls, run_id: str | None = None, log_dir: Path | None = None) -> RunContext:
        """Make the work dir and claim it for this process, so gc knows the run is alive."""
        rid = run_id or new_run_id()
        work = runs_root() / rid
        logs = log_dir or work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        _write_owner(work)
        return cls(rid, work, logs)

    def instance_dir(self, instance: str) -> Path:
        path = self.work_dir / "instances" / instance
        path.mkdir(parents=True, exist_ok=True)
        return path


def _write_owner(work: Path) -> None:
    owner = {"pid": os.getpid(), "start": process_start(os.getpid()), "boot": paths.boot_id()}
    (work / OWNER_FILE).write_text(json.dumps(owner))


def process_start(pid: int) -> str:
    """The process's start time in clock ticks: with the pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def run_is_alive(run_id: str) -> bool:
    """True while the process that created the run's work dir still runs (same host boot)."""
    try:
        owner = json.loads((runs_root() / run_id / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False
    if owner.get("boot") != paths.boot_id():
        return False
    pid = int(owner.get("pid", 0))
    return pid > 0 and process_start(pid) == owner.get("start")
