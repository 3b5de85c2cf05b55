"""The "hosts" test tier's guest image: a Debian host with systemd as PID 1 and cgroup v2.

Built with the workload image's own machinery (mmdebstrap rootfs, ext4 disk from the tree,
Debian's kernel and vcbench's busybox initramfs, which hands over to systemd through
vcbench.init=), cached by its spec key in a cache of its own beside the workload images.
The kernel's modules go into the rootfs (with a modules.dep made by depmod on the host), so
that systemd, dockerd and podman load overlay, bridge, veth and netfilter as on any host.
A oneshot unit runs /carry/run.sh from a second disk, if there is one, then powers off.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.core import paths
from bench.core.errors import ImageError
from bench.core.proc import run
from bench.images import build as image_build
from bench.images import initramfs, rootfs, vmdisk
from bench.images import spec as image_spec
from bench.images.cache import Cache
from bench.images.guest_kernel import boot_image, guest_kernel

RECIPE_VERSION = 3  # 3: no serial getty waiting 90 s for a device udev would make
DISK, KERNEL, INITRAMFS, RECORD = "disk.raw", "vmlinuz", "initramfs.img", "image.json"
DRIVER = "usr/local/sbin/vcbench-hosts-driver"
# Units the packages enable that the guest does not start at boot (prefixes of unit names).
NOT_AT_BOOT = (
    "containerd.",
    "docker.",
    "libvirtd",
    "virtlogd",
    "virtlockd",
    "libvirt-guests.",
    "podman",
    "apt-daily",
    "dpkg-db-backup.",
    "e2scrub",
    "fstrim.",
    "logrotate.",
    "man-db.",
)
UNIT = "vcbench-hosts.service"
UNIT_TEXT = f"""[Unit]
Description=vcbench hosts tier: run /carry/run.sh from the carry disk, then power off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/{DRIVER}
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
"""
# systemd as PID 1 (the initramfs execs vcbench.init), the unified hierarchy only.
CMDLINE = (
    "console=ttyS0 root=/dev/vda rw panic=-1 vcbench.init=/lib/systemd/systemd"
    " systemd.unified_cgroup_hierarchy=1 systemd.show_status=1"
)


class HostGuestSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str = "vcbench-host"
    packages: tuple[str, ...] = Field(min_length=1)
    disk: image_spec.DiskSpec = image_spec.DiskSpec(size_mib=12288)


@dataclass(frozen=True)
class HostGuest:
    """A built guest: boot the kernel with the initramfs and CMDLINE, the disk as vda."""

    key: str
    disk: Path
    kernel: Path
    initramfs: Path
    kernel_version: str
    cmdline: str = CMDLINE


def spec_path() -> Path:
    return Path(str(resources.files("bench.images") / "host_guest.toml"))


def load_spec(extra_packages: Sequence[str] = ()) -> image_spec.ImageSpec:
    """The workload image's spec with this guest's hostname, disk and packages (+ extra)."""
    path = spec_path()
    try:
        guest = HostGuestSpec.model_validate(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ImageError(f"{path}: {exc}", "fix the host guest spec") from exc
    base = image_spec.load()
    packages = tuple(dict.fromkeys([*guest.packages, *extra_packages]))
    merged = {
        **base.model_dump(),
        "hostname": guest.hostname,
        "packages": packages,
        "disk": guest.disk.model_dump(),
    }
    try:
        return image_spec.ImageSpec.model_validate(merged)
    except ValidationError as exc:
        raise ImageError(f"{path}: {exc.errors()[0]['msg']}", "fix the host guest spec") from exc


def recipe() -> str:
    driver = (resources.files("bench.images") / "host_guest_driver.sh").read_bytes()
    blob = f"host-guest {RECIPE_VERSION}\n{UNIT_TEXT}\n{CMDLINE}\n".encode() + driver
    return image_build.recipe() + hashlib.sha256(blob).hexdigest()


def cache() -> Cache:
    """A cache of its own: `vcbench images` lists and removes workload images only."""
    return Cache(paths.cache_dir() / "host-guest")


def build(extra_packages: Sequence[str] = (), say: image_build.Progress = print) -> HostGuest:
    """The cached guest for the spec, built first if missing (about two minutes)."""
    spec = load_spec(extra_packages)
    key = image_spec.spec_key(spec, spec.sources_file().read_text(), recipe())
    store = cache()
    entry = store.lookup(key)
    if entry is None:
        with store.locked():
            entry = store.lookup(key)
            if entry is None:
                store.sweep()
                with store.staging(key) as work:
                    _build_into(work, spec, key, say)
                    entry = store.publish(work, key)
    record = json.loads((entry / RECORD).read_text())
    return HostGuest(
        key=key,
        disk=entry / DISK,
        kernel=entry / KERNEL,
        initramfs=entry / INITRAMFS,
        kernel_version=record["kernel_version"],
    )


def _build_into(
    work: Path, spec: image_spec.ImageSpec, key: str, say: image_build.Progress
) -> None:
    started = time.monotonic()
    cache_root = paths.cache_dir()
    kernel = guest_kernel(cache_root, spec.kernel.package)
    busybox = initramfs.static_busybox(cache_root)
    say(f"host guest: mmdebstrap {spec.suite} with {len(spec.packages)} packages")
    tar = work / "rootfs.tar"
    rootfs.mmdebstrap(spec, spec.sources_file(), tar)
    mmdebstrap_s = time.monotonic() - started
    tree = work / "tree"
    rootfs.extract(tar, tree)
    tar.unlink()
    _install_modules(tree, kernel.modules_dir, kernel.version)
    _disable_daemons(tree)
    _install_driver(tree)
    say("host guest: ext4 disk, kernel, initramfs")
    vmdisk.make_disk(tree, work / DISK, spec.disk.size_mib, key[:64], spec.source_date_epoch)
    shutil.rmtree(tree)
    (work / KERNEL).write_bytes(boot_image(kernel.vmlinuz))
    initramfs.vm_initramfs(kernel, busybox, spec.kernel.modules, work / INITRAMFS)
    record = {
        "spec_key": key,
        "kernel_version": kernel.version,
        "packages": list(spec.packages),
        "mmdebstrap_seconds": round(mmdebstrap_s, 1),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (work / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    say(f"host guest: built in {record['build_seconds']} s")


def _install_modules(tree: Path, modules_dir: Path, version: str) -> None:
    """The guest kernel's modules where modprobe looks, and the modules.dep it reads."""
    target = tree / "usr/lib/modules" / version
    shutil.copytree(modules_dir, target, symlinks=True)
    run(["depmod", "-b", tree, version], timeout=300, hint="install kmod")


def _disable_daemons(tree: Path) -> None:
    """Installed, enabled by their packages, and stopped: `vcbench host setup` must start
    them through systemctl, as on a user's host where they are not running yet. (Under TCG
    their start at boot also took most of the guest's first 100 s.)"""
    for link in sorted((tree / "etc/systemd/system").glob("*.wants/*")):
        if link.name.startswith(NOT_AT_BOOT):
            link.unlink()


def _install_driver(tree: Path) -> None:
    driver = tree / DRIVER
    driver.parent.mkdir(parents=True, exist_ok=True)
    driver.write_bytes((resources.files("bench.images") / "host_guest_driver.sh").read_bytes())
    driver.chmod(0o755)
    units = tree / "etc/systemd/system"
    (units / UNIT).write_text(UNIT_TEXT)
    # No udev here: the serial getty would wait 90 s for a dev-ttyS0.device that never comes.
    (units / "serial-getty@ttyS0.service").symlink_to("/dev/null")
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / UNIT).symlink_to(f"/etc/systemd/system/{UNIT}")
