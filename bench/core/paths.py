"""Where vcbench keeps things: cache, state and runtime directories, results and reports.

As root, the defaults are system-wide (/var/cache/vcbench, /var/lib/vcbench, /run/vcbench):
libvirt's unprivileged QEMU user must reach the shared images and each run's overlays, which
root's 0700 home would hide, and a run's liveness must look the same whoever asks. Otherwise
they follow XDG. An XDG_CACHE_HOME or XDG_STATE_HOME set in the environment wins either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SYSTEM_CACHE = Path("/var/cache/vcbench")
SYSTEM_STATE = Path("/var/lib/vcbench")
SYSTEM_RUNTIME = Path("/run/vcbench")


def checkout() -> Path:
    """The directory holding the bench package: a git checkout's root (workloads/, .git), or
    site-packages when installed."""
    return Path(__file__).resolve().parents[2]


def is_root() -> bool:
    return os.geteuid() == 0


def _xdg(var: str, default: str, system: Path) -> Path:
    value = os.environ.get(var)
    if value:
        return Path(value) / "vcbench"
    return system if is_root() else Path.home() / default / "vcbench"


def cache_dir() -> Path:
    """Built images and probe results; safe to delete, costly to rebuild.

    Must be readable by libvirt's QEMU user: created 0755, files 0644 (see shared_dir)."""
    return _xdg("XDG_CACHE_HOME", ".cache", SYSTEM_CACHE)


def state_dir() -> Path:
    """Daemon logs of what `vcbench host setup` started itself; the runs' work dirs."""
    return _xdg("XDG_STATE_HOME", ".local/state", SYSTEM_STATE)


def runtime_dir() -> Path:
    """Facts that die with the host boot (which process owns which run): tmpfs as root.

    Root ignores XDG_RUNTIME_DIR, which a login session sets per user: the point is one place
    for the whole host. Others fall back to their own runtime (or state) directory."""
    if is_root():
        return SYSTEM_RUNTIME
    value = os.environ.get("XDG_RUNTIME_DIR")
    return Path(value) / "vcbench" if value else state_dir() / "run"


def shared_dir(path: Path, mode: int = 0o755) -> Path:
    """Make path with mode, and its missing parents 0755, whatever the umask: others (libvirt's
    QEMU user, gc run by someone else) must traverse them."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for made in missing:
        made.chmod(mode if made == path else 0o755)
    return path


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
