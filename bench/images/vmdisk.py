"""The VM disk: a raw ext4 image made from the very tree the native chroot runs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from bench.core.errors import BenchError, ImageError
from bench.core.proc import run


def make_disk(tree: Path, out: Path, size_mib: int, digest: str, epoch: int) -> None:
    """mkfs.ext4 -d: no loop mount, no root needed beyond reading the tree.

    UUID, hash seed and timestamps come from the digest and SOURCE_DATE_EPOCH so the same
    tree gives the same filesystem. World-readable: libvirt chowns backing files of
    overlays to its qemu user and does not give them back.
    """
    fs_uuid = str(uuid.UUID(digest[:32]))
    argv: list[str | Path] = [
        "mkfs.ext4", "-q", "-F", "-L", "vcbench-root", "-U", fs_uuid,
        "-E", f"root_owner=0:0,hash_seed={fs_uuid}", "-d", tree, out, f"{size_mib}M",
    ]  # fmt: skip
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(epoch)}
    try:
        run(argv, env=env, timeout=600)
    except BenchError as exc:
        full = "No space left" in exc.message or "Could not allocate" in exc.message
        raise ImageError(
            f"mkfs.ext4 could not make the VM disk ({exc.message})",
            "free some disk space" if full else "install e2fsprogs (`vcbench host setup`)",
        ) from exc
    out.chmod(0o644)


def allocated_bytes(path: Path) -> int:
    return path.stat().st_blocks * 512
