"""An instance's own footprint from the sampler's summaries: what the host pays for it.

The instance's source is whichever of these sampled it: the VM's QEMU process (PSS counts
shared pages once among sharers; RSS when PSS was not read), the container's or the native
instance's cgroup (memory charged to it), or the native instance's tagged processes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.collectors.records import SeriesSummary

# source -> memory fields in order of preference
MEMORY_FIELDS = {
    "qemu": ("pss_bytes", "rss_bytes"),
    "cgroup": ("mem_bytes",),
    "procs": ("rss_bytes",),
}
MIB = 2**20


def footprint(summary: Sequence[SeriesSummary]) -> dict[str, float]:
    """memory_mib (mean) and cpu_pct (mean share of one core, in %), where sampled."""
    by_key = {(s.source, s.field): s for s in summary if s.n > 0}
    found: dict[str, float] = {}
    for source, fields in MEMORY_FIELDS.items():
        memory = next((by_key[(source, f)] for f in fields if (source, f) in by_key), None)
        if memory is None:
            continue
        found["memory_mib"] = memory.mean / MIB
        found["memory_peak_mib"] = memory.peak / MIB
        cpu = by_key.get((source, "cpu_s"))
        if cpu is not None:
            found["cpu_pct"] = cpu.mean * 100  # the rate of CPU seconds is a share of cores
        break
    return found
