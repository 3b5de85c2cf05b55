"""Where vcbench keeps things: XDG cache and state directories, results and reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    base = Path(value) if value else Path.home() / default
    return base / "vcbench"


def cache_dir() -> Path:
    """Built images and probe results; safe to delete, costly to rebuild."""
    return _xdg("XDG_CACHE_HOME", ".cache")


def state_dir() -> Path:
    """Daemon logs and pid files of what `vcbench host setup` started itself."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def results_dir() -> Path:
    return Path(os.environ.get("VCBENCH_RESULTS", "results"))


def reports_dir() -> Path:
    return Path(os.environ.get("VCBENCH_REPORTS", "reports"))


def boot_id() -> str:
    """Changes at every host boot: keys facts that hold only until the next reboot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside target, renamed onto it only if the block succeeds.

    Readers see the old file or the whole new one, never half of one; the temporary name is
    per process, so two writers racing for the same target cannot rename each other's file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
