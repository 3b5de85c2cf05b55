"""The libvirt domain of one VM instance, rendered from domain.xml.j2 (golden-tested)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from bench.platforms.labels import METADATA_URI
from bench.platforms.protocol import Limits

# {root}: the profile's disk bus decides the guest's device name (vda or sda).
BASE_CMDLINE = "console=ttyS0 root=/dev/{root} rw quiet panic=-1"


@dataclass(frozen=True)
class VmDevices:
    """What a VM profile resolved to on this host (profile_fit.fit); the default is today's
    domain under TCG: virtio everything, QEMU's cache mode, one vCPU per cpuset CPU."""

    profile: str = "default"
    disk_bus: str = "virtio"  # virtio | sata
    disk_cache: str = ""  # "": QEMU's default (writeback, through the host page cache)
    disk_io: str = ""
    net_model: str = "virtio"  # virtio | e1000 | e1000e | rtl8139
    net_queues: int = 1
    pin_each_vcpu: bool = True  # False: every vCPU may run on any CPU of the cpuset
    hugepages: bool = False
    cpu_mode: str = ""  # "": QEMU's default CPU model; host-passthrough under KVM

    @property
    def disk_dev(self) -> str:
        """The guest's name for its root disk: virtio-blk is vda, a SATA disk is sda."""
        return "vda" if self.disk_bus == "virtio" else "sda"


@dataclass(frozen=True)
class DomainSpec:
    name: str
    run_id: str
    domain_type: str  # "kvm" or "qemu" (TCG); "test" for libvirt's test driver
    limits: Limits
    kernel: Path
    initrd: Path
    overlay: Path
    backing: Path  # the shared raw disk under the overlay: read-only, never relabelled
    network: str
    address: str  # ADDR/PREFIX for the guest's eth0, read by the guest init
    # Live-resize room (Instance.set_limits): None keeps today's domain, max = current.
    max_vcpus: int | None = None
    max_memory_mib: int | None = None
    vm: VmDevices = VmDevices()

    @property
    def pins(self) -> list[tuple[int, int | str]]:
        """vCPU i runs on the i-th CPU of the cpuset, or (profile pinning "cpuset") anywhere in
        it, as a container's threads may."""
        if not self.vm.pin_each_vcpu:
            return [(vcpu, self.limits.cpuset_text) for vcpu in range(len(self.limits.cpuset))]
        return list(enumerate(self.limits.cpuset))

    @property
    def mac(self) -> str:
        digest = hashlib.sha1(self.name.encode()).digest()
        return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])

    @property
    def cmdline(self) -> str:
        base = BASE_CMDLINE.format(root=self.vm.disk_dev)
        return f"{base} vcbench.ip={self.address} vcbench.hostname={self.name}"


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=jinja2.select_autoescape(default=True),  # names and paths go into XML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("domain.xml.j2")


def render(spec: DomainSpec) -> str:
    return _template().render(d=spec, metadata_uri=METADATA_URI)
