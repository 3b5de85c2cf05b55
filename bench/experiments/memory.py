"""C4: memory per instance, idle and after a workload inside touched touch_mib, as the host
sees it: the container's cgroup usage, the QEMU process's RSS, the native keeper's RSS; the
PSS of the instance's host processes; the management overhead around the guest (QEMU's
memory outside guest RAM, the containerd shim's RSS); and the host's MemAvailable drop.

"Loaded" is read after the workload exited: a container's cgroup gives the memory back, a
VM's QEMU keeps the guest pages it backed (the guest freed them, the host never hears).
gVisor lies between: its Sentry returns freed pages from its memory file in the background,
so its loaded figure holds whatever part of the touched memory was not yet given back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from bench.core.errors import BenchError
from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.host_memory import Footprint, footprint_of
from bench.experiments.instance_scope import checked, started
from bench.experiments.loadkit import drop_caches, mem_available_bytes

NAME = "memory"


class MemoryExperiment:
    name = NAME
    claims = ("C4",)
    # settle_s: how long a fresh instance idles before "idle" is read (a VM's init and agent
    # are still starting at the ready marker); part of the definition, not a wait for luck.
    defaults: ClassVar[Mapping[str, float]] = {"repeats": 8, "touch_mib": 256, "settle_s": 2.0}

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        touch = int(ctx.settings["touch_mib"])
        if touch > ctx.limits.memory_mib // 2:
            raise BenchError(
                f"memory: touch_mib {touch} is over half of --memory {ctx.limits.memory_mib} MiB",
                "lower experiments.memory.touch_mib or raise --memory",
            )
        for repeat in range(int(ctx.settings["repeats"])):
            for name in ctx.platforms:
                yield from _measure(ctx, name, repeat, touch, float(ctx.settings["settle_s"]))


def _measure(
    ctx: ExperimentContext, name: str, repeat: int, touch: int, settle_s: float
) -> Iterator[ExperimentRecord]:
    dropped = drop_caches()
    before = mem_available_bytes()
    with started(ctx, name) as instance:
        time.sleep(settle_s)
        sizes = footprint_of(instance)
        idle, pss, overhead = sizes.resident(), sizes.pss(), sizes.overhead()
        drop_caches()
        after = mem_available_bytes()
        # fullblock: a short read (gVisor gives them) would touch less than the whole buffer
        argv = ["dd", "if=/dev/zero", "of=/dev/null", f"bs={touch}M", "count=1", "iflag=fullblock"]
        checked(instance, argv, timeout=300)
        loaded = sizes.resident()
        detail = _detail(sizes, touch, settle_s, dropped, overhead[1])
        detail |= {"mem_available_before_bytes": before, "mem_available_idle_bytes": after}
        values = [
            ("idle-bytes", idle),
            ("idle-pss-bytes", pss),
            ("loaded-bytes", loaded),
            ("overhead-bytes", overhead[0]),
            ("host-delta-bytes", before - after),
        ]
        for metric, value in values:
            yield ExperimentRecord(
                NAME, name, metric, float(value), "B", repeat, accel=instance.accel, detail=detail
            )


def _detail(
    sizes: Footprint, touch: int, settle_s: float, dropped: bool, overhead: dict[str, Any]
) -> dict[str, Any]:
    return {
        "resident": sizes.what,
        "touch_mib": touch,
        "workload": f"dd bs={touch}M count=1 iflag=fullblock from /dev/zero: {touch} MiB touched",
        "loaded_when": "after the workload exited",
        "settle_s": settle_s,
        "host_delta": "MemAvailable before start - while idle"
        + (", page cache dropped before each" if dropped else ", caches NOT dropped (not root)")
        + "; whatever else the host does meanwhile lands in it: read it over repeats",
        "overhead": overhead,
    }
