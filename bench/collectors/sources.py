"""Which sources sample an instance: the host always, and the platform's own figures."""

from __future__ import annotations

from pathlib import Path

from bench.collectors.cgroup_source import CgroupSource, ProcessSource
from bench.collectors.domain import DomainSource
from bench.collectors.host import HostSource
from bench.collectors.proctree import ProcessSet, TaggedPids, cgroup_pids
from bench.collectors.qemu import QemuSource
from bench.collectors.records import Source
from bench.core.errors import PlatformError
from bench.host.cgroupfs import CgroupDir, CgroupDirs, locate
from bench.platforms import procs
from bench.platforms.docker import DockerInstance
from bench.platforms.libvirt import LibvirtInstance
from bench.platforms.native import NativeInstance
from bench.platforms.podman import PodmanInstance
from bench.platforms.protocol import Instance


def sources_for(instance: Instance) -> list[Source]:
    found: list[Source] = [HostSource()]
    if isinstance(instance, NativeInstance):
        found.append(native_source(instance))
    elif isinstance(instance, DockerInstance):  # gvisor too: its sandbox is the container's
        found.append(docker_source(instance))
    elif isinstance(instance, PodmanInstance):
        found.append(CgroupSource(locate(instance.pid())))
    elif isinstance(instance, LibvirtInstance):
        found.append(QemuSource.for_domain(instance.domain.name()))
        found.append(DomainSource(instance.domain))
    return found


def native_source(instance: NativeInstance) -> Source:
    memory = instance.memory_cgroup
    if memory is None:  # the host gave no memory cgroup: follow the instance's tagged processes
        return ProcessSource(ProcessSet(TaggedPids(procs.INSTANCE_VAR, instance.name)))
    # native.py makes the cgroup in the v1 memory hierarchy when there is one, else in v2's;
    # a v2 directory also counts CPU time and I/O, a v1 memory one needs its processes read.
    if (memory.path / "memory.usage_in_bytes").exists():
        dirs = CgroupDirs(CgroupDir(memory.path, 1), None, None)
    else:
        v2 = CgroupDir(memory.path, 2)
        dirs = CgroupDirs(v2, v2, v2)
    return CgroupSource(dirs, ProcessSet(cgroup_pids(memory.path)))


def docker_source(instance: DockerInstance) -> CgroupSource:
    return CgroupSource(locate(container_pid(instance)))


def container_pid(instance: DockerInstance) -> int:
    """The container's init process on the host: its /proc/<pid>/cgroup names the container's
    cgroups whatever the cgroup driver (cgroupfs: /docker/<id>, systemd: docker-<id>.scope)."""
    # One inspect call when the sources are made; nothing of the Docker API per tick.
    state = instance._api.inspect_container(instance.container_id)["State"]
    pid = int(state.get("Pid") or 0)
    if pid <= 0 or not Path(f"/proc/{pid}").exists():
        raise PlatformError(f"{instance.name}: the container is not running (state {state})")
    return pid
