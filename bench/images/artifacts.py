"""The contract between image building and the platforms: what a built image set holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

READY_MARKER = "VCBENCH-READY"
ROOTFS_ID_FILE = "etc/vcbench-rootfs"


@dataclass(frozen=True)
class ImageSet:
    """Everything built from one rootfs tarball, found in one cache entry."""

    digest: str  # sha256 hex of the rootfs tarball: the userland's identity
    root: Path  # the cache entry directory
    rootfs_tar: Path
    tree: Path  # extracted tree: the native platform's chroot
    manifest: Path  # JSON path -> sha256 of every regular file in the tree
    docker_tag: str  # e.g. vcbench/rootfs:<digest[:12]>
    disk_raw: Path  # ext4 raw image of the same tree, world-readable backing file
    kernel: Path  # the guest kernel (never part of the rootfs)
    initramfs: Path
    kernel_version: str

    @property
    def short(self) -> str:
        return self.digest[:12]
