"""Build (or find) the image set for a spec: rootfs, Docker image, VM disk, kernel, initramfs.

An unchanged spec answers from the cache without touching apt, mmdebstrap or the disk.
A build happens in a staging directory under the cache lock and is published by rename,
so an interrupted or failed build leaves the cache exactly as it was.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from bench.core import paths
from bench.core.errors import ImageError
from bench.images import docker_image, initramfs, podman_image, rootfs, vmdisk
from bench.images.artifacts import ImageSet
from bench.images.cache import Cache, free_bytes
from bench.images.guest_kernel import GuestKernel, boot_image, guest_kernel
from bench.images.record import (
    DISK,
    INITRAMFS,
    KERNEL,
    MANIFEST,
    ROOTFS_TAR,
    TREE,
    ImageRecord,
    Sizes,
    load_record,
)
from bench.images.spec import ImageSpec, load, spec_key

Progress = Callable[[str], None]
# tarball + tree + disk blocks + docker's copy is about 4x a ~330 MB rootfs.
MIN_FREE_BYTES = 2 * 1024**3
NOT_BUILT = ("images are not built", "run `vcbench images build`")
TOOLS = ("mmdebstrap", "mkfs.ext4", "tar", "apt-get", "apt-cache", "dpkg-deb")
# Bump when the build makes different artifacts from the same spec (hooks, mkfs options...);
# changes to the guest scripts are noticed without it.
RECIPE_VERSION = 3  # 3: an XZ-compressed kernel is stored as its ELF (PVH boot)


def build(
    spec_path: Path | None = None, *, force: bool = False, progress: Progress | None = None
) -> ImageSet:
    """Build what is missing for the spec and return the image set."""
    say = progress or (lambda _: None)
    spec = load(spec_path)
    key = _key(spec)
    cache = Cache(paths.cache_dir())
    client = docker_image.connect()  # docker down is a reason to stop before a long build
    entry = None if force else cache.lookup(key)
    if entry is not None:
        return _with_docker_image(cache, entry, client, spec, say)
    _check_tools()
    with cache.locked():
        entry = None if force else cache.lookup(key)  # another build may have just made it
        if entry is not None:
            return _with_docker_image(cache, entry, client, spec, say)
        cache.sweep()
        _check_free_space(cache.root)
        try:
            with cache.staging(key) as work:
                record = _build_into(work, spec, key, client, say)
                entry = cache.publish(work, key)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise ImageError("the disk is full while building images", "free space") from exc
            raise
    say(f"built {record.digest[:12]} in {record.build_seconds:.1f} s")
    _load_podman(client, record.docker_tag, record.digest, say)
    return record.image_set(entry)


def current(spec_path: Path | None = None, *, require_docker: bool = True) -> ImageSet:
    """The cached image set for the spec (never builds). require_docker=False lets a
    native-only run go on while dockerd is down."""
    spec = load(spec_path)
    entry = Cache(paths.cache_dir()).lookup(_key(spec))
    if entry is None:
        raise ImageError(*NOT_BUILT)
    record = load_record(entry)
    if require_docker and not docker_image.exists(docker_image.connect(), record.docker_tag):
        raise ImageError(f"docker image {record.docker_tag} is gone", NOT_BUILT[1])
    return record.image_set(entry)


def recipe() -> str:
    """Fingerprint of the builder's own inputs: changing a guest script is a new entry."""
    files = resources.files("bench.images")
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\n".encode())
    for name, data in sorted(rootfs.helper_scripts().items()):
        digest.update(name.encode() + b"\0" + data)
    digest.update((files / "initramfs_init.sh").read_bytes())
    return digest.hexdigest()


def _key(spec: ImageSpec) -> str:
    return spec_key(spec, spec.sources_file().read_text(), recipe())


def _with_docker_image(
    cache: Cache, entry: Path, client: Any, spec: ImageSpec, say: Progress
) -> ImageSet:
    """A cached entry, re-importing its Docker image if someone removed the tag (and loading
    it into podman where podman is installed and lacks it)."""
    record = load_record(entry)
    if not docker_image.exists(client, record.docker_tag):
        say(f"docker image {record.docker_tag} is gone: importing it again")
        with cache.locked():
            if not docker_image.exists(client, record.docker_tag):
                docker_image.import_rootfs(
                    client, entry / ROOTFS_TAR, record.digest, spec.source_date_epoch
                )
    if not podman_image.present_or_absent(record.digest):
        with cache.locked():
            _load_podman(client, record.docker_tag, record.digest, say)
    return record.image_set(entry)


def _load_podman(client: Any, docker_tag: str, digest: str, say: Progress) -> None:
    done = podman_image.ensure(client, docker_tag, digest)
    if done:
        say(done)


def _boot_parts(cache_root: Path, kernel_package: str) -> tuple[GuestKernel, Path]:
    return guest_kernel(cache_root, kernel_package), initramfs.static_busybox(cache_root)


def _check_tools() -> None:
    """Fail in one line before a minute of work rather than in the middle of it."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise ImageError(f"{', '.join(missing)} not installed", "run `vcbench host setup`")


def _check_free_space(where: Path) -> None:
    free = free_bytes(where)
    if free < MIN_FREE_BYTES:
        raise ImageError(
            f"only {free / 1024**3:.1f} GiB free under {where}, a build needs about "
            f"{MIN_FREE_BYTES / 1024**3:.0f} GiB",
            "free some disk space or point XDG_CACHE_HOME elsewhere",
        )


def _build_into(work: Path, spec: ImageSpec, key: str, client: Any, say: Progress) -> ImageRecord:
    started = time.monotonic()
    cache_root = paths.cache_dir()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The kernel download overlaps mmdebstrap, which is mostly waiting on apt.
        boot_parts: Future[tuple[GuestKernel, Path]] = pool.submit(
            _boot_parts, cache_root, spec.kernel.package
        )
        say(f"rootfs: mmdebstrap {spec.suite} with {len(spec.packages)} packages (about a minute)")
        tar = work / ROOTFS_TAR
        rootfs.mmdebstrap(spec, spec.sources_file(), tar)
        kernel, busybox = boot_parts.result()
    digest = rootfs.sha256_file(tar)
    say(f"rootfs: {digest[:12]}, unpacking the tree")
    tree = work / TREE
    rootfs.extract(tar, tree)
    rootfs.write_identity(tree, digest)
    files = rootfs.write_manifest(tree, work / MANIFEST)
    say("vm: ext4 disk, kernel, initramfs")
    vmdisk.make_disk(tree, work / DISK, spec.disk.size_mib, digest, spec.source_date_epoch)
    (work / KERNEL).write_bytes(boot_image(kernel.vmlinuz))  # an XZ kernel as its ELF
    initramfs.vm_initramfs(kernel, busybox, spec.kernel.modules, work / INITRAMFS)
    for name in (KERNEL, INITRAMFS, ROOTFS_TAR, MANIFEST):
        (work / name).chmod(0o644)
    say(f"docker: importing {docker_image.tag_for(digest)}")
    docker_bytes = docker_image.import_rootfs(client, tar, digest, spec.source_date_epoch)
    record = ImageRecord(
        digest=digest,
        spec_key=key,
        docker_tag=docker_image.tag_for(digest),
        kernel_version=kernel.version,
        files=files,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - started, 2),
        sizes=Sizes(
            rootfs_tar=tar.stat().st_size,
            tree=rootfs.tree_bytes(tree),
            docker_image=docker_bytes,
            disk_apparent=(work / DISK).stat().st_size,
            disk_allocated=vmdisk.allocated_bytes(work / DISK),
            kernel=(work / KERNEL).stat().st_size,
            initramfs=(work / INITRAMFS).stat().st_size,
        ),
    )
    record.save(work)
    return record
