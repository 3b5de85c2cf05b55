"""The image cache: only complete entries are visible, failures leave nothing, one builder."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from bench.core.errors import ImageError
from bench.images.cache import RECORD, Cache
from bench.images.record import ImageRecord, Sizes, load_record

KEY = "ab" * 32


def record(digest: str = "cd" * 32) -> ImageRecord:
    sizes = Sizes(
        rootfs_tar=1, tree=2, docker_image=3, disk_apparent=4, disk_allocated=5, kernel=6,
        initramfs=7,
    )  # fmt: skip
    return ImageRecord(
        digest=digest, spec_key=KEY, docker_tag=f"vcbench/rootfs:{digest[:12]}",
        kernel_version="6.1.0-test", files=9, built_at="2024-01-01T00:00:00+00:00",
        build_seconds=1.5, sizes=sizes,
    )  # fmt: skip


def build_into(cache: Cache, key: str = KEY, digest: str = "cd" * 32) -> Path:
    with cache.staging(key) as work:
        (work / "rootfs.tar").write_bytes(b"tar")
        record(digest).save(work)
        return cache.publish(work, key)


def test_a_published_entry_is_found_and_its_record_reads_back(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.lookup(KEY) is None
    entry = build_into(cache)
    assert cache.lookup(KEY) == entry and cache.entries() == [entry]
    images = load_record(entry).image_set(entry)
    assert images.rootfs_tar == entry / "rootfs.tar" and images.short == "cd" * 6
    assert list(cache.tmp_dir.iterdir()) == []


def test_everyone_can_read_an_entry_whatever_the_umask(tmp_path: Path) -> None:
    """libvirt's unprivileged QEMU user opens the disk, kernel and initramfs of an entry."""
    old = os.umask(0o077)
    try:
        cache = Cache(tmp_path / "cache")
        with cache.locked(), cache.staging(KEY) as work:
            (work / "disk.raw").write_bytes(b"disk")
            (work / "tree").mkdir()
            (work / "tree" / "secret").write_bytes(b"mode kept")
            entry = cache.publish(work, KEY)
    finally:
        os.umask(old)
    for directory in (tmp_path / "cache", cache.root, cache.entries_dir, entry):
        assert directory.stat().st_mode & 0o777 == 0o755, directory
    assert (entry / "disk.raw").stat().st_mode & 0o777 == 0o644
    assert (entry / "tree" / "secret").stat().st_mode & 0o777 == 0o600  # the rootfs's own


def test_a_failed_build_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    first = build_into(cache)
    with pytest.raises(RuntimeError), cache.staging(KEY) as work:
        (work / "rootfs.tar").write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert cache.entries() == [first] and (first / "rootfs.tar").read_bytes() == b"tar"
    assert list(cache.tmp_dir.iterdir()) == []


def test_a_directory_without_its_record_is_not_an_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    (cache.entries_dir / KEY).mkdir(parents=True)
    assert cache.lookup(KEY) is None and cache.entries() == []


def test_publish_replaces_an_older_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    build_into(cache, digest="11" * 32)
    entry = build_into(cache, digest="22" * 32)
    assert load_record(entry).digest == "22" * 32 and len(cache.entries()) == 1
    assert list(cache.tmp_dir.iterdir()) == []


def test_sweep_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    debris = cache.tmp_dir / "abc-123"
    (debris / "tree/etc").mkdir(parents=True)
    (cache.tmp_dir / "stray-file").write_text("x")
    cache.sweep()
    assert list(cache.tmp_dir.iterdir()) == []


def test_remove_takes_the_entry_away(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry = build_into(cache)
    cache.remove(entry)
    assert cache.entries() == [] and not entry.exists()


def wait_until_blocked_on(path: Path, timeout: float = 30.0) -> None:
    """Until the kernel lists a request blocked on path's lock (/proc/locks marks a waiter
    with "->"): the second builder is then really waiting, not merely slow to start."""
    inode = f":{path.stat().st_ino} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        locks = Path("/proc/locks").read_text().splitlines()
        if any("->" in line and inode in line for line in locks):
            return
        time.sleep(0.01)
    pytest.fail(f"no request blocked on {path} within {timeout:g} s")


def test_the_lock_makes_a_second_builder_wait(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    order: list[str] = []

    def second() -> None:
        with Cache(tmp_path).locked():
            order.append("second")

    with cache.locked():
        waiter = threading.Thread(target=second)
        waiter.start()
        wait_until_blocked_on(cache.root / ".lock")
        order.append("first")
    waiter.join(timeout=5)
    assert order == ["first", "second"]


def test_an_unreadable_record_says_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / RECORD).write_text("{not json")
    with pytest.raises(ImageError, match="unreadable") as failure:
        load_record(tmp_path)
    assert "--force" in failure.value.hint
