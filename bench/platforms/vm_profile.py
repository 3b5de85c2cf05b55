"""VM profiles are data (bench/platforms/profiles/*.toml): how a domain is built.

A profile names the disk and network devices, the disk cache and I/O modes, the vCPU
pinning, huge pages, and (in its [kvm] table) what applies only under KVM. Loaded,
validated strictly and frozen like workloads; every error is one line naming the file and
the key. What a profile asks and the host cannot give is decided in profile_fit.py.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.core.errors import BenchError
from bench.core.platform_names import DEFAULT_PROFILE
from bench.core.workload import _first_problem, read_toml

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
# "" leaves the choice to QEMU (cache=writeback through the host page cache, io=threads).
CacheMode = Literal["", "none", "writeback", "writethrough", "directsync", "unsafe"]
IoMode = Literal["", "threads", "native", "io_uring"]


class ProfileFileError(BenchError):
    """A VM profile file that cannot be used; nothing has started."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Disk(_Strict):
    bus: Literal["virtio", "sata"]
    cache: CacheMode = ""
    io: IoMode = ""

    @model_validator(mode="after")
    def _native_needs_direct(self) -> Disk:
        if self.io == "native" and self.cache not in ("none", "directsync"):
            raise ValueError("io = 'native' needs cache = 'none' or 'directsync' (QEMU refuses)")
        return self


class Net(_Strict):
    model: Literal["virtio", "e1000", "e1000e", "rtl8139"]
    # Queue pairs; "vcpus" gives one per vCPU (multiqueue is a virtio-net feature).
    queues: Annotated[int, Field(ge=1, le=256)] | Literal["vcpus"] = 1

    @model_validator(mode="after")
    def _multiqueue_is_virtio(self) -> Net:
        if self.queues != 1 and self.model != "virtio":
            raise ValueError(f"queues: multiqueue needs model = 'virtio' (got {self.model!r})")
        return self


class Cpu(_Strict):
    # vcpu: vCPU i on the i-th CPU of the trial's cpuset (the emulator on the whole cpuset);
    # cpuset: every vCPU may run on any CPU of the cpuset, as a container's threads may.
    pinning: Literal["vcpu", "cpuset"] = "vcpu"


class Memory(_Strict):
    hugepages: bool = False  # backed by the host's huge pages when it has enough free


class Kvm(_Strict):
    """What only applies when the domain runs under KVM (TCG emulates its own CPU model)."""

    cpu_mode: Literal["default", "host-passthrough", "host-model"] = "default"


class VmProfile(_Strict):
    name: Name
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    disk: Disk
    net: Net
    cpu: Cpu = Cpu()
    memory: Memory = Memory()
    kvm: Kvm = Kvm()


def profiles_dir() -> Path:
    return Path(str(resources.files("bench.platforms") / "profiles"))


def profile_names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or profiles_dir()).glob("*.toml"))


def load_profile(name: str, directory: Path | None = None) -> VmProfile:
    folder = directory or profiles_dir()
    path = folder / f"{name}.toml"
    if not path.is_file():
        raise ProfileFileError(
            f"unknown VM profile {name!r}", f"choose from {', '.join(profile_names(folder))}"
        )
    return load_profile_file(path)


def load_profile_file(path: Path) -> VmProfile:
    data = read_toml(path)
    try:
        profile = VmProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileFileError(f"{path}: {_first_problem(exc)}") from None
    if profile.name != path.stem:
        raise ProfileFileError(
            f"{path}: name: {profile.name!r} differs from the file name",
            f"name the file {profile.name}.toml or set name = {path.stem!r}",
        )
    return profile


def parse_profiles(text: str, directory: Path | None = None) -> tuple[str, ...]:
    """--vm-profile: a comma list of profile names, each loadable, default first if given."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise BenchError("--vm-profile: no profile named", f"e.g. --vm-profile {DEFAULT_PROFILE}")
    for name in names:
        load_profile(name, directory)
    return names
