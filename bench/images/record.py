"""What a cache entry says about itself (image.json): identity, sizes, build time.

Paths are not stored: an entry's files have fixed names inside the entry, so the cache
directory can move without rewriting records.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.core.errors import ImageError
from bench.images.artifacts import ImageSet
from bench.images.cache import RECORD

ROOTFS_TAR = "rootfs.tar"
TREE = "tree"
MANIFEST = "manifest.json"
DISK = "disk.raw"
KERNEL = "vmlinuz"
INITRAMFS = "initramfs.img"


class Sizes(BaseModel):
    model_config = ConfigDict(frozen=True)

    rootfs_tar: int
    tree: int
    docker_image: int
    disk_apparent: int
    disk_allocated: int
    kernel: int
    initramfs: int


class ImageRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    digest: str
    spec_key: str
    docker_tag: str
    kernel_version: str
    files: int  # regular files in the manifest
    built_at: str  # ISO 8601, UTC
    build_seconds: float
    sizes: Sizes

    def image_set(self, root: Path) -> ImageSet:
        return ImageSet(
            digest=self.digest,
            root=root,
            rootfs_tar=root / ROOTFS_TAR,
            tree=root / TREE,
            manifest=root / MANIFEST,
            docker_tag=self.docker_tag,
            disk_raw=root / DISK,
            kernel=root / KERNEL,
            initramfs=root / INITRAMFS,
            kernel_version=self.kernel_version,
        )

    def save(self, root: Path) -> None:
        (root / RECORD).write_text(self.model_dump_json(indent=2) + "\n")


def load_record(root: Path) -> ImageRecord:
    try:
        return ImageRecord.model_validate_json((root / RECORD).read_text())
    except (OSError, ValidationError) as exc:
        raise ImageError(
            f"image cache entry {root} is unreadable ({type(exc).__name__})",
            "rebuild with `vcbench images build --force`",
        ) from exc
