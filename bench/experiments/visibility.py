"""C11: what an instance believes it has. nproc and `free` inside, beside the limits set:
a container with a 1 GiB limit shows the host's memory in `free`; a VM shows its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psutil

from bench.core.errors import PlatformError
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.instance_scope import checked, started
from bench.platforms.protocol import Instance

NAME = "visibility"
# One exec: what the processes inside are told, by the tools they would ask.
LOOK = ["/bin/sh", "-c", "nproc; grep '^MemTotal:' /proc/meminfo; free -b"]


class VisibilityExperiment:
    name = NAME
    claims = ("C11",)

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        host: dict[str, object] = {
            "host_nproc": os.cpu_count(),
            "host_mem_total_bytes": psutil.virtual_memory().total,
        }
        for platform in ctx.platforms:
            with started(ctx, platform) as instance:
                yield from _records(platform, instance, host)


def _records(platform: str, instance: Instance, host: dict[str, object]) -> list[ExperimentRecord]:
    nproc, mem_total, free_total = parse_look(checked(instance, LOOK))
    info = instance.info
    limit = info.memory_limit_mib if info else None
    detail = host | {
        "cpuset": instance.limits.cpuset_text,
        "cgroup_memory_limit_inside_bytes": None if limit is None else limit * 2**20,
    }
    values = [
        ("nproc", float(nproc), "count"),
        ("mem-total-bytes", float(mem_total), "B"),
        ("free-total-bytes", float(free_total), "B"),
        ("limit-vcpus", float(instance.limits.vcpus), "count"),
        ("limit-memory-bytes", float(instance.limits.memory_mib * 2**20), "B"),
    ]
    return [
        ExperimentRecord(NAME, platform, m, v, u, accel=instance.accel, detail=detail)
        for m, v, u in values
    ]


def parse_look(output: str) -> tuple[int, int, int]:
    """LOOK's output -> (nproc, MemTotal in bytes, `free -b`'s total in bytes)."""
    lines = output.splitlines()
    try:
        nproc = int(lines[0])
        mem_total = int(lines[1].split()[1]) * 1024  # /proc/meminfo says kB, meaning KiB
        free_total = next(int(line.split()[1]) for line in lines[2:] if line.startswith("Mem:"))
    except (IndexError, ValueError, StopIteration) as exc:
        raise PlatformError(f"cannot read nproc, MemTotal and free from {output!r}") from exc
    return nproc, mem_total, free_total
