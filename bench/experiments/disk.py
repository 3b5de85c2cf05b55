"""C5: disk consumed per extra instance, fresh and after the same work: the container's
writable layer (Docker and Podman report its size alike), the VM's qcow2 overlay, the native
chroot's overlay upper directory.

The work writes two files of work_mib/2 each (random bytes: nothing compresses or
deduplicates them), syncs, deletes one and syncs again. A layer that gives deleted files
back ends near work_mib/2; one that keeps what was ever written (an overlay whose guest
filesystem does not discard) ends near work_mib.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from bench.core.errors import PlatformError
from bench.core.podman_cli import podman
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.hostside import allocated_bytes
from bench.experiments.instance_scope import checked, started
from bench.platforms.docker import DockerInstance, DockerPlatform
from bench.platforms.libvirt import LibvirtInstance
from bench.platforms.native import NativeInstance
from bench.platforms.podman import PodmanInstance
from bench.platforms.protocol import Instance, Platform

NAME = "disk-per-instance"
WORK_DIR = "/var/tmp/vcbench-disk"  # on the instance's root filesystem in all three, not tmpfs
# iflag=fullblock: gVisor's /dev/urandom gives short reads, and dd would count each as a block
# (its files came out 7.0 MiB of 8 without it)
WORK = (
    "set -e; mkdir -p {dir}; cd {dir};"
    " dd if=/dev/urandom of=kept bs=1M count={half} iflag=fullblock status=none;"
    " dd if=/dev/urandom of=deleted bs=1M count={half} iflag=fullblock status=none;"
    " sync; rm deleted; sync"
)


class DiskPerInstanceExperiment:
    name = NAME
    claims = ("C5",)
    defaults: ClassVar[Mapping[str, int]] = {"repeats": 8, "work_mib": 64}

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        repeats, work_mib = int(ctx.settings["repeats"]), int(ctx.settings["work_mib"])
        half = max(1, work_mib // 2)
        for repeat in range(repeats):
            for name, platform in ctx.platforms.items():
                with started(ctx, name) as instance:
                    yield from _measure(name, platform, instance, repeat, half)


def _measure(
    name: str, platform: Platform, instance: Instance, repeat: int, half: int
) -> Iterator[ExperimentRecord]:
    fresh, how = used_bytes(platform, instance)
    checked(instance, ["/bin/sh", "-c", WORK.format(dir=WORK_DIR, half=half)], timeout=300)
    after, _ = used_bytes(platform, instance)
    detail = {
        "measures": how,
        "work": f"write 2 x {half} MiB of random bytes in {WORK_DIR}, sync, delete one, sync",
        "written_mib": 2 * half,
        "kept_mib": half,
    }
    for metric, value in (("bytes-fresh", fresh), ("bytes-after-work", after)):
        yield ExperimentRecord(
            NAME, name, metric, float(value), "B", repeat, accel=instance.accel, detail=detail
        )


def used_bytes(platform: Platform, instance: Instance) -> tuple[int, str]:
    """The instance's own disk on the host (what one more instance costs), and what it is."""
    # instance_dir makes the directory it names: ask only for those the platform made
    if isinstance(instance, LibvirtInstance):
        overlay = platform.config.run.instance_dir(instance.name) / "disk.qcow2"
        return allocated_bytes(overlay), "qcow2 overlay, allocated bytes"
    if isinstance(instance, NativeInstance):
        upper = platform.config.run.instance_dir(instance.name) / "upper"
        return allocated_bytes(upper), "overlay upper directory, allocated bytes"
    if isinstance(instance, DockerInstance) and isinstance(platform, DockerPlatform):
        return _size_rw(platform.client(), instance.container_id), "docker SizeRw"
    if isinstance(instance, PodmanInstance):
        return _podman_size_rw(instance.name), "podman SizeRw"
    raise PlatformError(f"no way to measure a {instance.platform} instance's own disk")


def _size_rw(client: Any, container_id: str) -> int:
    """The writable layer's size as Docker reports it (the files' lengths summed)."""
    found = client.api.containers(all=True, size=True, filters={"id": container_id})
    if not found:
        raise PlatformError(f"container {container_id[:12]} is gone")
    return int(found[0].get("SizeRw") or 0)


def _podman_size_rw(name: str) -> int:
    """Podman's figure for the same layer, computed the same way as Docker's."""
    return int(json.loads(podman("container", "inspect", "--size", name))[0].get("SizeRw") or 0)
