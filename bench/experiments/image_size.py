"""C2: what an instance needs to exist, from the same userland: the container image as
Docker stores it, against the VM's disk (allocated bytes) plus its kernel and initramfs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.hostside import allocated_bytes
from bench.images.artifacts import ImageSet
from bench.platforms.docker import DockerPlatform
from bench.platforms.libvirt import LibvirtPlatform

NAME = "image-size"


class ImageSizeExperiment:
    name = NAME
    claims = ("C2",)

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        yield _userland(ctx.images)
        docker = ctx.platforms.get("docker")
        if isinstance(docker, DockerPlatform):
            yield from _docker(docker.client(), ctx.images.docker_tag)
        vms = [n for n, p in ctx.platforms.items() if isinstance(p, LibvirtPlatform)]
        if vms:  # every VM profile boots the same disk, kernel and initramfs: once
            yield from _vm(vms[0], ctx.images, ctx.accel)


def _record(
    platform: str, metric: str, value: int, accel: str = "", **detail: Any
) -> ExperimentRecord:
    return ExperimentRecord(NAME, platform, metric, float(value), "B", accel=accel, detail=detail)


def _userland(images: ImageSet) -> ExperimentRecord:
    return _record(
        "native",
        "userland-bytes",
        images.rootfs_tar.stat().st_size,
        what="the rootfs tar every platform's image is made from",
        digest=images.digest,
        extracted_tree_allocated_bytes=allocated_bytes(images.tree),
    )


def _docker(client: Any, tag: str) -> Iterator[ExperimentRecord]:
    attrs = client.images.get(tag).attrs
    size = int(attrs["Size"])
    layers = len(attrs.get("RootFS", {}).get("Layers", []))
    yield _record(
        "docker", "image-bytes", size, what="docker image inspect .Size", tag=tag, layers=layers
    )
    yield _record("docker", "total-bytes", size, what="the image: the host kernel is shared")


def _vm(platform: str, images: ImageSet, accel: str) -> Iterator[ExperimentRecord]:
    disk = allocated_bytes(images.disk_raw)
    kernel = images.kernel.stat().st_size
    initramfs = images.initramfs.stat().st_size
    yield _record(
        platform,
        "image-bytes",
        disk,
        accel,
        what="the raw ext4 disk's allocated bytes",
        apparent_bytes=images.disk_raw.stat().st_size,
    )
    yield _record(platform, "kernel-bytes", kernel, accel, version=images.kernel_version)
    yield _record(platform, "initramfs-bytes", initramfs, accel)
    yield _record(
        platform,
        "total-bytes",
        disk + kernel + initramfs,
        accel,
        what="disk (allocated) + kernel + initramfs",
    )
