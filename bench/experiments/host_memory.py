"""An instance's memory as the host sees it, one reader per platform: what it holds
resident, the PSS of its host processes, and what manages it (the VMM overhead)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from bench.collectors.cgroup_source import CgroupSource
from bench.collectors.qemu import qemu_pid
from bench.collectors.sources import container_pid, native_source
from bench.core.errors import PlatformError
from bench.experiments.hostside import ancestor_named, pss_bytes, qemu_memory, rss_bytes
from bench.host.cgroupfs import locate
from bench.platforms import procs
from bench.platforms.docker import DockerInstance
from bench.platforms.libvirt import LibvirtInstance
from bench.platforms.native import NativeInstance
from bench.platforms.podman import PodmanInstance
from bench.platforms.protocol import Instance

Overhead = tuple[int, dict[str, Any]]  # bytes, and how they were found


class Footprint(ABC):
    what: str  # what resident() measures, for the record's detail

    @abstractmethod
    def resident(self) -> int: ...

    @abstractmethod
    def pids(self) -> list[int]:
        """The instance's processes on the host."""

    @abstractmethod
    def overhead(self) -> Overhead: ...

    def pss(self) -> int:
        return pss_bytes(self.pids())


class ContainerFootprint(Footprint):
    what = "the container's memory cgroup usage"

    def __init__(self, name: str, init_pid: int, manager: str) -> None:
        """manager: the host process above the container's init that keeps it (Docker's
        containerd shim, Podman's conmon): what managing one container costs."""
        self._init = init_pid
        self._manager = manager
        dirs = locate(init_pid)
        self._cgroup = CgroupSource(dirs)
        memory = dirs.memory
        if memory is None:
            raise PlatformError(f"{name}: the container has no memory cgroup")
        self._procs = memory.path / "cgroup.procs"

    def resident(self) -> int:
        return int(self._cgroup.read()["mem_bytes"])

    def pids(self) -> list[int]:
        return [int(p) for p in self._procs.read_text().split()]

    def overhead(self) -> Overhead:
        manager = ancestor_named(self._init, self._manager)
        rss = rss_bytes(manager.pid)
        return rss, {
            "what": f"the {self._manager} process's RSS",
            "manager_pss_bytes": pss_bytes([manager.pid]),
        }


class VmFootprint(Footprint):
    what = "the QEMU process's RSS"

    def __init__(self, instance: LibvirtInstance) -> None:
        self._pid = qemu_pid(instance.domain.name())
        self._guest_bytes = instance.limits.memory_mib * 2**20

    def resident(self) -> int:
        return rss_bytes(self._pid)

    def pids(self) -> list[int]:
        return [self._pid]

    def overhead(self) -> Overhead:
        memory = qemu_memory(self._pid, self._guest_bytes)
        how = {
            "what": "QEMU's RSS minus the guest RAM it backs (its guest-RAM mapping's RSS)",
            "qemu_rss_bytes": memory.rss,
            "guest_ram_backed_bytes": memory.guest_backed,
            "translated_code_bytes": memory.code_buffer,  # TCG only: part of the overhead
        }
        return memory.overhead, how


class NativeFootprint(Footprint):
    what = "the keeper process's RSS"

    def __init__(self, instance: NativeInstance) -> None:
        self._instance = instance

    def resident(self) -> int:
        return rss_bytes(self._instance.keeper_pid)

    def pids(self) -> list[int]:
        return [p.pid for p in procs.tagged(procs.INSTANCE_VAR).get(self._instance.name, [])]

    def overhead(self) -> Overhead:
        cgroup = native_source(self._instance).read()
        return 0, {
            "what": "none: no process manages a chroot, its keeper is the instance itself",
            "cgroup_or_procs_bytes": cgroup.get("mem_bytes", cgroup.get("rss_bytes")),
        }


def footprint_of(instance: Instance) -> Footprint:
    if isinstance(instance, DockerInstance):  # gvisor too: its sandbox is under the shim
        return ContainerFootprint(instance.name, container_pid(instance), "containerd-shim")
    if isinstance(instance, PodmanInstance):
        return ContainerFootprint(instance.name, instance.pid(), "conmon")
    if isinstance(instance, LibvirtInstance):
        return VmFootprint(instance)
    if isinstance(instance, NativeInstance):
        return NativeFootprint(instance)
    raise PlatformError(f"no memory reader for a {instance.platform} instance")
