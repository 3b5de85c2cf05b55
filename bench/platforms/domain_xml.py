"""The libvirt domain of one VM instance, rendered from domain.xml.j2 (golden-tested)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from bench.platforms.base import Limits
from bench.platforms.labels import METADATA_URI

BASE_CMDLINE = "console=ttyS0 root=/dev/vda rw quiet panic=-1"


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

    @property
    def pins(self) -> list[tuple[int, int]]:
        """vCPU i runs on the i-th CPU of the cpuset, as a container's threads may."""
        return list(enumerate(self.limits.cpuset))

    @property
    def mac(self) -> str:
        digest = hashlib.sha1(self.name.encode()).digest()
        return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])

    @property
    def cmdline(self) -> str:
        return f"{BASE_CMDLINE} vcbench.ip={self.address} vcbench.hostname={self.name}"


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
