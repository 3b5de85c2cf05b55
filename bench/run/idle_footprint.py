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


# What memory_mib counts, by the field it came from: a reader comparing a VM's PSS with a
# container's charged memory must know which is which.
MEMORY_BASIS = {
    "pss_bytes": ("pss", "PSS (proportional set size: shared pages split among sharers)"),
    "rss_bytes": ("rss", "RSS (resident set size: shared pages counted in full)"),
    "mem_bytes": ("cgroup", "the memory charged to the instance's cgroup"),
}


def _memory(summary: Sequence[SeriesSummary]) -> tuple[str, SeriesSummary] | None:
    """The first memory series sampled, in MEMORY_FIELDS' order, with its field."""
    by_key = {(s.source, s.field): s for s in summary if s.n > 0}
    for source, fields in MEMORY_FIELDS.items():
        for name in fields:
            if (source, name) in by_key:
                return name, by_key[(source, name)]
    return None


def footprint(summary: Sequence[SeriesSummary]) -> dict[str, float]:
    """memory_mib (mean) and cpu_pct (mean share of one core, in %), where sampled."""
    found: dict[str, float] = {}
    memory = _memory(summary)
    if memory is None:
        return found
    _, series = memory
    found["memory_mib"] = series.mean / MIB
    found["memory_peak_mib"] = series.peak / MIB
    cpu = next(
        (s for s in summary if s.n > 0 and (s.source, s.field) == (series.source, "cpu_s")), None
    )
    if cpu is not None:
        found["cpu_pct"] = cpu.mean * 100  # the rate of CPU seconds is a share of cores
    return found


def memory_basis(summary: Sequence[SeriesSummary]) -> tuple[str, str]:
    """What the footprint's memory_mib is ("pss", "rss" or "cgroup") and what that counts;
    ("", "") when no memory series was read."""
    memory = _memory(summary)
    return MEMORY_BASIS[memory[0]] if memory else ("", "")
