"""The image cache: one directory per spec key, published atomically, built under a lock.

Layout under <cache>/images/:
  entries/<key>/   complete entries only (they appear by rename(2), never piecemeal)
  tmp/             entries being built; whatever is here without the lock held is debris
  .lock            fcntl lock held by a build (or rm) for its whole duration

Everyone may read the cache: libvirt's unprivileged QEMU user opens the VM disk, kernel and
initramfs, so directories are 0755 and an entry's own files 0644, whatever the umask. Only
its owner writes it (as root, a root-owned /var/cache/vcbench: see bench/core/paths.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.core.paths import shared_dir

RECORD = "image.json"


class Cache:
    def __init__(self, cache_root: Path) -> None:
        self.root = cache_root / "images"
        self.entries_dir = self.root / "entries"
        self.tmp_dir = self.root / "tmp"

    def lookup(self, key: str) -> Path | None:
        entry = self.entries_dir / key
        return entry if (entry / RECORD).is_file() else None

    def entries(self) -> list[Path]:
        if not self.entries_dir.is_dir():
            return []
        return sorted(p for p in self.entries_dir.iterdir() if (p / RECORD).is_file())

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive for the whole block; a second builder waits, then finds the entry."""
        shared_dir(self.root)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def sweep(self) -> None:
        """Remove what interrupted builds left. Only call with the lock held."""
        if self.tmp_dir.is_dir():
            for debris in self.tmp_dir.iterdir():
                _remove(debris)

    @contextmanager
    def staging(self, key: str) -> Iterator[Path]:
        """A fresh directory to build into; removed unless publish() took it."""
        shared_dir(self.tmp_dir)
        work = Path(tempfile.mkdtemp(prefix=f"{key[:12]}-", dir=self.tmp_dir))
        work.chmod(0o755)  # mkdtemp makes 0700; readers must reach the entry once published
        try:
            yield work
        finally:
            _remove(work)

    def publish(self, work: Path, key: str) -> Path:
        """Make a fully built staging directory the entry for key (replacing an old one)."""
        _readable_by_all(work)
        shared_dir(self.entries_dir)
        target = self.entries_dir / key
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix="retired-", dir=self.tmp_dir))
            target.rename(retired / key)
            work.rename(target)
            _remove(retired)
        else:
            work.rename(target)
        return target

    def remove(self, entry: Path) -> None:
        """Retire by rename first, so a reader never sees a half-deleted entry."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        retired = Path(tempfile.mkdtemp(prefix="removed-", dir=self.tmp_dir))
        entry.rename(retired / entry.name)
        _remove(retired)


def _readable_by_all(entry: Path) -> None:
    """The entry's own files 0644; subdirectories (the rootfs tree) keep the modes they carry."""
    for path in entry.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o644)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def free_bytes(path: Path) -> int:
    """Free space where path is (or would be) created."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    stats = os.statvfs(probe)
    return stats.f_bavail * stats.f_frsize
