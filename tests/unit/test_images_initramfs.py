"""The newc writer: checked against an independent reader (busybox cpio) and the format."""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bench.core.errors import ImageError
from bench.images.guest_kernel import GuestKernel
from bench.images.initramfs import (
    CharDev,
    Dir,
    Entry,
    File,
    Symlink,
    module_entries,
    write_newc,
)

BUSYBOX = shutil.which("busybox")

ENTRIES: list[Entry] = [
    File("init", b"#!/bin/sh\necho hi\n", 0o755),
    File("etc/deep/config", b"x" * 5),  # parents etc/ and etc/deep/ are implied
    Dir("newroot", 0o700),
    Symlink("bin/sh", "busybox"),
    CharDev("dev/console", 5, 1),
]


def members(archive: Path) -> list[tuple[str, int, int, bytes]]:
    """A minimal independent newc parser: (name, mode, rdev major, data) per member."""
    blob = gzip.decompress(archive.read_bytes())
    out: list[tuple[str, int, int, bytes]] = []
    pos = 0
    while True:
        assert blob[pos : pos + 6] == b"070701"
        fields = [int(blob[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rdev_major, namesize = fields[1], fields[6], fields[9], fields[11]
        name_end = pos + 110 + namesize
        name = blob[pos + 110 : name_end - 1].decode()
        data_start = name_end + (-name_end % 4)
        data = blob[data_start : data_start + size]
        pos = data_start + size + (-(data_start + size) % 4)
        if name == "TRAILER!!!":
            assert blob[pos:].strip(b"\0") == b""
            return out
        out.append((name, mode, rdev_major, data))


def test_members_parents_first_and_aligned(tmp_path: Path) -> None:
    out = tmp_path / "i.cpio.gz"
    write_newc(ENTRIES, out)
    names = [m[0] for m in members(out)]
    assert names == [
        "init", "etc", "etc/deep", "etc/deep/config", "newroot", "bin", "bin/sh", "dev",
        "dev/console",
    ]  # fmt: skip
    by_name = {m[0]: m for m in members(out)}
    assert stat.S_ISCHR(by_name["dev/console"][1]) and by_name["dev/console"][2] == 5
    assert by_name["bin/sh"][3] == b"busybox"
    assert stat.S_IMODE(by_name["newroot"][1]) == 0o700


def test_same_entries_same_bytes(tmp_path: Path) -> None:
    write_newc(ENTRIES, tmp_path / "a")
    write_newc(ENTRIES, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.skipif(BUSYBOX is None, reason="busybox not installed")
def test_busybox_cpio_extracts_what_was_written(tmp_path: Path) -> None:
    archive = tmp_path / "i.cpio"
    write_newc([e for e in ENTRIES if not isinstance(e, CharDev) or os.geteuid() == 0], archive)
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(
        [BUSYBOX or "busybox", "cpio", "-i", "-d"],
        input=gzip.decompress(archive.read_bytes()),
        cwd=root,
        check=True,
        capture_output=True,
    )
    assert (root / "init").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((root / "init").stat().st_mode) == 0o755
    assert (root / "etc/deep/config").read_bytes() == b"xxxxx"
    assert os.readlink(root / "bin/sh") == "busybox"
    assert stat.S_IMODE((root / "newroot").stat().st_mode) == 0o700
    if os.geteuid() == 0:
        console = (root / "dev/console").stat()
        assert stat.S_ISCHR(console.st_mode) and os.major(console.st_rdev) == 5


@pytest.mark.parametrize("bad", ["", "/", "../etc/passwd", "a/../../b"])
def test_bad_paths_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="bad initramfs path"):
        write_newc([File(bad, b"")], tmp_path / "x")


def test_a_path_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="given twice"):
        write_newc([File("a", b"1"), File("/a", b"2")], tmp_path / "x")


def test_modules_are_decompressed_and_ordered(tmp_path: Path) -> None:
    mods = tmp_path / "lib/modules/6.1.0-test"
    (mods / "kernel/drivers").mkdir(parents=True)
    (mods / "kernel/drivers/virtio_ring.ko").write_bytes(b"ELF-ring")
    (mods / "kernel/drivers/virtio-blk.ko.xz").write_bytes(lzma.compress(b"ELF-blk"))
    kernel = GuestKernel(vmlinuz=tmp_path / "vmlinuz", modules_dir=mods, version="6.1.0-test")
    entries = module_entries(kernel, ["virtio_blk", "virtio_ring"])
    assert entries == [
        File("lib/modules/virtio_blk.ko", b"ELF-blk"),
        File("lib/modules/virtio_ring.ko", b"ELF-ring"),
        File("etc/vcbench-modules", b"virtio_blk\nvirtio_ring\n"),
    ]
    with pytest.raises(ImageError, match="no module virtio_net"):
        module_entries(kernel, ["virtio_ring", "virtio_net"])
