"""The Platform protocol: limits in, an Instance out, one exec and one startup clock for all."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from bench.core.errors import BenchError, InstanceTimeout, PlatformError
from bench.images.artifacts import READY_MARKER, ImageSet
from bench.platforms import lifecycle
from bench.platforms.labels import RunContext, resource_name

AccelChoice = Literal["kvm", "tcg", "auto"]
MIN_MEMORY_MIB = 128  # the smallest the guest kernel boots with; the same floor everywhere
DEFAULT_READY_TIMEOUT_S = 60.0
# One shell line: the keeper every platform but the VM runs (the VM's init prints the marker).
KEEPER = ["/bin/sh", "-c", f"echo {READY_MARKER}; exec sleep infinity"]
# After an exec timed out where its command is out of the host's reach (a sandbox's own
# process table, conmon's child): kill everything inside but the keeper (pid 1) and itself.
KILL_ALL_BUT_KEEPER = ["/bin/sh", "-c", "kill -9 -1"]
# What each instance reports about itself, read the same way on all three platforms.
PROBE = [
    "/bin/sh",
    "-c",
    "nproc; grep MemTotal /proc/meminfo; uname -r;"
    " p=$(sed -n 's/^[0-9]*:memory:\\(.*\\)$/\\1/p' /proc/self/cgroup);"
    " cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes 2>/dev/null"
    " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
    " || cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max",
]


@dataclass(frozen=True)
class Limits:
    """vCPUs, memory and the host CPUs they run on; one vCPU per host CPU of the cpuset."""

    vcpus: int
    memory_mib: int
    cpuset: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.vcpus < 1:
            raise BenchError(f"vcpus must be at least 1, not {self.vcpus}")
        if self.memory_mib < MIN_MEMORY_MIB:
            raise BenchError(
                f"memory must be at least {MIN_MEMORY_MIB} MiB, not {self.memory_mib}",
                "the guest kernel does not boot with less",
            )
        if len(set(self.cpuset)) != len(self.cpuset) or any(c < 0 for c in self.cpuset):
            raise BenchError(f"cpuset {self.cpuset} has repeated or negative CPUs")
        if len(self.cpuset) != self.vcpus:
            # nproc inside a container counts the cpuset, inside a VM the vCPUs: only equal
            # sizes give every platform the same nproc.
            raise BenchError(
                f"cpuset {self.cpuset_text or '(empty)'} has {len(self.cpuset)} CPUs"
                f" for {self.vcpus} vCPUs",
                "give exactly one host CPU per vCPU, or leave --cpuset out",
            )

    @property
    def cpuset_text(self) -> str:
        """The cpuset in cgroup/taskset/libvirt syntax, e.g. '0-1,3'."""
        return format_cpuset(self.cpuset)

    @classmethod
    def on_host(cls, vcpus: int, memory_mib: int, cpuset: str | None = None) -> Limits:
        """Limits checked against the CPUs this process may use; default: the first N of them."""
        host = sorted(os.sched_getaffinity(0))
        cpus = parse_cpuset(cpuset) if cpuset else tuple(host[:vcpus])
        missing = sorted(set(cpus) - set(host))
        if missing:
            raise BenchError(
                f"cpuset CPUs {format_cpuset(tuple(missing))} are not available here",
                f"this host offers {format_cpuset(tuple(host))}",
            )
        if vcpus > len(host):
            raise BenchError(f"{vcpus} vCPUs asked, this host has {len(host)} CPUs")
        if memory_mib > host_memory_mib():
            raise BenchError(
                f"memory {memory_mib} MiB is more than this host has ({host_memory_mib()} MiB)",
                "ask for less",
            )
        return cls(vcpus, memory_mib, cpus)


def host_memory_mib() -> int:
    """The host's RAM: a limit above it would limit nothing."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def parse_cpuset(text: str) -> tuple[int, ...]:
    cpus: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    except ValueError as exc:
        raise BenchError(f"cannot read cpuset {text!r}", "write it like 0-1,3") from exc
    return tuple(sorted(set(cpus)))


def format_cpuset(cpus: tuple[int, ...]) -> str:
    ranges: list[str] = []
    for cpu in sorted(cpus):
        if ranges and cpu == int(ranges[-1].split("-")[-1]) + 1:
            ranges[-1] = f"{ranges[-1].split('-')[0]}-{cpu}"
        else:
            ranges.append(str(cpu))
    return ",".join(ranges)


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int
    wall_s: float  # host clock around the whole exec, transport included


@dataclass(frozen=True)
class Startup:
    """Host perf_counter seconds: just before the create call -> running -> marker received."""

    create_to_running_s: float
    running_to_ready_s: float

    @property
    def total_s(self) -> float:
        return self.create_to_running_s + self.running_to_ready_s


@dataclass(frozen=True)
class InstanceInfo:
    """What the instance itself reports, by the same PROBE on every platform."""

    nproc: int
    mem_total_mib: int  # MemTotal of /proc/meminfo inside
    memory_limit_mib: int | None  # the memory cgroup limit seen inside, None if unlimited
    kernel: str

    @property
    def visible_memory_mib(self) -> int:
        limit = self.memory_limit_mib
        return self.mem_total_mib if limit is None else min(limit, self.mem_total_mib)

    @classmethod
    def parse(cls, output: str) -> InstanceInfo:
        lines = output.split("\n")
        try:
            nproc, meminfo, kernel, limit = (line.strip() for line in lines[:4])
            limit_bytes = None if limit == "max" else int(limit)
            return cls(
                nproc=int(nproc),
                mem_total_mib=int(meminfo.split()[1]) // 1024,
                # cgroup v1 says "unlimited" with a huge page-rounded number
                memory_limit_mib=limit_bytes // 2**20
                if limit_bytes is not None and limit_bytes < 2**60
                else None,
                kernel=kernel,
            )
        except (ValueError, IndexError) as exc:
            raise PlatformError(f"cannot read the instance probe output {output!r}") from exc


@dataclass(frozen=True)
class PlatformConfig:
    run: RunContext
    images: ImageSet
    accel: AccelChoice = "auto"  # only the VM has a choice; the others run on the host CPU


@dataclass(frozen=True)
class InstanceSpec:
    limits: Limits
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    # Room for Instance.set_limits to grow into: a VM's vCPUs and RAM are sized at boot, so
    # a live increase needs a maximum above the start (None: the maximum is the start).
    max_vcpus: int | None = None
    max_memory_mib: int | None = None
    # The TCP ports servers will listen on in the instance: a platform that publishes ports
    # (docker-nat) publishes these when it creates the instance; the others ignore them.
    ports: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if (self.max_vcpus or self.limits.vcpus) < self.limits.vcpus or (
            self.max_memory_mib or self.limits.memory_mib
        ) < self.limits.memory_mib:
            raise BenchError(
                f"the maximum ({self.max_vcpus} vCPUs, {self.max_memory_mib} MiB) is below the"
                f" start ({self.limits.vcpus} vCPUs, {self.limits.memory_mib} MiB)"
            )


class Instance(ABC):
    """A started instance. Made only by Platform.start, which also removes it."""

    platform: ClassVar[str]

    def __init__(self, name: str, limits: Limits, log_path: Path) -> None:
        self.name = name
        self.limits = limits
        self.log_path = log_path  # console / output stream of this instance
        self.startup = Startup(0.0, 0.0)
        self.info: InstanceInfo | None = None
        self.address: str | None = None  # where the host reaches it (None: the host itself)
        # A server's port inside -> the port the host reaches it at, where they differ (ports
        # published through NAT); a port not listed is reached at its own number.
        self.published: dict[int, int] = {}
        self.accel: str = "host"

    @abstractmethod
    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        """Run argv inside; a command still running at timeout is killed (InstanceTimeout)."""

    def pause(self) -> None:  # noqa: B027 - a chroot's keeper only sleeps: nothing to freeze
        """Freeze the instance while another platform is measured (its timer ticks and
        housekeeping would otherwise land in someone else's figure)."""

    def resume(self) -> None:  # noqa: B027 - see pause
        """Undo pause."""

    def oom_kills(self) -> int | None:
        """Processes the OOM killer has killed in this instance so far; None if unknowable.

        A command that exits non-zero with this count above zero was killed for memory: an
        instance with an OOM kill behind it is replaced, so any count means this command."""
        return None

    def set_limits(self, limits: Limits) -> list[str]:
        """Change the running instance's vCPUs, memory and cpuset in place (elasticity).

        Returns when the platform has accepted the change, which may show inside later,
        with notes on any part that was done only partly (PlatformError if refused)."""
        raise PlatformError(
            f"{self.name}: a {self.platform} instance cannot change its limits while it runs"
        )

    def probe(self) -> InstanceInfo:
        result = self.exec(PROBE, timeout=30)
        if result.exit_code != 0:
            raise PlatformError(f"{self.name}: the probe failed: {result.stderr.strip()}")
        self.info = InstanceInfo.parse(result.stdout)
        return self.info


class Platform(ABC):
    """Makes instances of one kind. Closing it removes what it shares (the run's network)."""

    name: ClassVar[str]

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self._count = 0

    @contextmanager
    def start(self, spec: InstanceSpec) -> Iterator[Instance]:
        """Start an instance, wait for its marker, probe it; remove it on leaving, always."""
        self._count += 1
        name = resource_name(self.config.run.run_id, self.name, str(self._count))
        with lifecycle.sigterm_raises(), lifecycle.Resources() as res:
            instance = self._start(name, spec, res)
            instance.probe()
            yield instance

    @abstractmethod
    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        """Make the instance, registering every piece with res, and wait for its marker."""

    def close(self) -> None:  # noqa: B027 - most platforms share something, not all
        """Remove what the platform shares between instances. Idempotent."""

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        with lifecycle.shielded():
            self.close()


def exec_timed_out(name: str, argv: Sequence[str], timeout: float) -> InstanceTimeout:
    return InstanceTimeout(
        f"{name}: `{' '.join(argv)}` did not finish within {timeout:g} s and was killed",
        "raise the command's timeout, or look for what hangs",
    )
