"""A VM profile fitted to this host: the devices the domain gets, and what it could not get.

`fit` is pure: the host facts come in, the resolved devices and the shortfalls (each with
advice) go out, so the run records exactly what each profile applied; `host_facts` reads
them from this host. Nothing a profile asks is dropped silently: a shortfall becomes a run
event, a line in run.json's fingerprint and a notice in the report.
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.core.platform_names import profile_of
from bench.data.results import Event
from bench.platforms.domain_xml import VmDevices
from bench.platforms.vm_profile import VmProfile, load_profile

KVM_ADVICE = "run on a host where KVM works (`vcbench host doctor`); TCG figures are emulation"


@dataclass(frozen=True)
class HostFacts:
    kvm: bool
    hugepage_kib: int = 2048
    hugepages_free: int = 0
    hugetlbfs: bool = False  # a hugetlbfs mount libvirt can back guest memory with
    direct_io: bool = True  # O_DIRECT works where the disks live (cache=none needs it)


@dataclass(frozen=True)
class Shortfall:
    key: str  # the profile key not applied: kvm.cpu_mode, memory.hugepages, disk.cache...
    message: str
    advice: str


@dataclass(frozen=True)
class Fitted:
    devices: VmDevices
    shortfalls: tuple[Shortfall, ...]

    def record(self, description: str) -> dict[str, Any]:
        """What run.json keeps about one profile: its intent, what it got, what it did not."""
        return {
            "profile": self.devices.profile,
            "description": description,
            "devices": asdict(self.devices),
            "not_applied": [asdict(s) for s in self.shortfalls],
        }


def fit(profile: VmProfile, facts: HostFacts, vcpus: int, memory_mib: int) -> Fitted:
    """The devices of `profile` on a host with `facts`, for a domain of this size."""
    short: list[Shortfall] = []
    name = profile.name
    cpu_mode = "" if profile.kvm.cpu_mode == "default" else profile.kvm.cpu_mode
    if cpu_mode and not facts.kvm:
        short.append(Shortfall(
            "kvm.cpu_mode",
            f"{name}: {cpu_mode} CPU needs KVM; this host runs VMs under TCG (QEMU's CPU model)",
            KVM_ADVICE,
        ))  # fmt: skip
        cpu_mode = ""
    hugepages = profile.memory.hugepages and _hugepages_fit(name, facts, memory_mib, short)
    cache, io = profile.disk.cache, profile.disk.io
    if cache in ("none", "directsync") and not facts.direct_io:
        short.append(Shortfall(
            "disk.cache",
            f"{name}: cache={cache} io={io or 'default'} need O_DIRECT, which the filesystem "
            "holding the VM disks lacks (tmpfs?): QEMU's default cache mode is used",
            "keep the image cache and the state directory on ext4 or xfs",
        ))  # fmt: skip
        cache, io = "", ""
    queues = vcpus if profile.net.queues == "vcpus" else profile.net.queues
    devices = VmDevices(
        profile=name, disk_bus=profile.disk.bus, disk_cache=cache, disk_io=io,
        net_model=profile.net.model, net_queues=queues,
        pin_each_vcpu=profile.cpu.pinning == "vcpu", hugepages=hugepages, cpu_mode=cpu_mode,
    )  # fmt: skip
    return Fitted(devices, tuple(short))


def _hugepages_fit(name: str, facts: HostFacts, memory_mib: int, short: list[Shortfall]) -> bool:
    needed = math.ceil(memory_mib * 1024 / facts.hugepage_kib)
    if facts.hugetlbfs and facts.hugepages_free >= needed:
        return True
    sysctl = f"`sysctl vm.nr_hugepages={needed}`"
    if facts.hugepages_free < needed:
        what = f"{facts.hugepages_free} free huge pages, {needed} needed"
        advice = sysctl + ("" if facts.hugetlbfs else ", mount hugetlbfs and restart libvirtd")
    else:
        what = "no hugetlbfs mount"
        advice = "`mount -t hugetlbfs hugetlbfs /dev/hugepages`, then restart libvirtd"
    short.append(Shortfall(
        "memory.hugepages", f"{name}: no huge pages on this host ({what}): normal pages", advice
    ))  # fmt: skip
    return False


def host_facts(kvm: bool, disk_dirs: tuple[Path, ...]) -> HostFacts:
    meminfo = _meminfo()
    return HostFacts(
        kvm=kvm,
        hugepage_kib=meminfo.get("Hugepagesize", 2048),
        hugepages_free=meminfo.get("HugePages_Free", 0),
        hugetlbfs=_hugetlbfs_mounted(),
        direct_io=all(direct_io_works(d) for d in disk_dirs),
    )


def _meminfo() -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            found[key] = int(fields[0])
    return found


def _hugetlbfs_mounted() -> bool:
    mounts = Path("/proc/mounts").read_text().splitlines()
    return any(len(m.split()) > 2 and m.split()[2] == "hugetlbfs" for m in mounts)


def direct_io_works(directory: Path) -> bool:
    """Whether a file in `directory` (or its nearest existing parent) opens with O_DIRECT."""
    where = next((p for p in (directory, *directory.parents) if p.is_dir()), Path("/"))
    probe = where / f".vcbench-odirect-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o600)
    except OSError as exc:
        # EINVAL: the filesystem refuses O_DIRECT (tmpfs); anything else (unwritable here)
        # says nothing about O_DIRECT: let QEMU decide.
        return exc.errno != errno.EINVAL
    os.close(fd)
    probe.unlink(missing_ok=True)
    return True


def run_records(
    platforms: Iterable[str], kvm: bool, vcpus: int, memory_mib: int, disk_dirs: tuple[Path, ...]
) -> dict[str, dict[str, Any]]:
    """Per VM platform of a run: the profile, what it applied here and what it could not."""
    facts = host_facts(kvm, disk_dirs)
    out: dict[str, dict[str, Any]] = {}
    for platform in platforms:
        if profile_of(platform):
            profile = load_profile(profile_of(platform))
            out[platform] = fit(profile, facts, vcpus, memory_mib).record(profile.description)
    return out


# Said once for the whole run by the report's TCG banner: a warning per profile would repeat it.
SAID_BY_THE_TCG_BANNER = frozenset({"kvm.cpu_mode"})


def shortfall_events(records: Mapping[str, Mapping[str, Any]], at: float) -> list[Event]:
    """One warning event per thing a profile could not apply, with its advice (what only KVM
    gives stays in the fingerprint's not_applied, not repeated per profile)."""
    return [
        Event("warning", s["message"], s["advice"], at,
              {"code": "vm-profile-not-applied", "platform": platform, "key": s["key"]})
        for platform, record in records.items()
        for s in record["not_applied"]
        if s["key"] not in SAID_BY_THE_TCG_BANNER
    ]  # fmt: skip
