"""What sampling produces: field descriptions, readings, per-series summaries, the sampler's cost.

Plain data only, so the summary math and every source can import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

Kind = Literal["counter", "gauge"]

# A counter's rate unit: seconds of CPU per second is a share of cores, bytes per second a rate.
_RATE_UNITS = {"s": "cores", "B": "B/s"}


@dataclass(frozen=True)
class Field:
    """One value a source reports: its unit and whether it accumulates or is instantaneous."""

    unit: str  # "s" or "B" for every field so far
    kind: Kind
    doc: str = ""

    @property
    def summary_unit(self) -> str:
        """The unit of the summary: a counter is summarised by its rate, a gauge by itself."""
        if self.kind == "gauge":
            return self.unit
        return _RATE_UNITS.get(self.unit, f"{self.unit}/s")


def counter(unit: str, doc: str = "") -> Field:
    return Field(unit, "counter", doc)


def gauge(unit: str, doc: str = "") -> Field:
    return Field(unit, "gauge", doc)


class Source(Protocol):
    """Something read once per tick. Counters are cumulative since any origin: only
    differences between readings mean anything. A field may be missing from a reading
    (not reported yet, e.g. the balloon's guest figures before the guest driver answers)."""

    name: str  # "host", "cgroup", "procs", "qemu", "libvirt"
    fields: ClassVar[Mapping[str, Field]]  # every field read() may return

    def read(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class Reading:
    t: float  # seconds since the sampler started, at the middle of the read call
    source: str
    values: dict[str, float]


@dataclass(frozen=True)
class SeriesSummary:
    """Counters: mean and peak of the per-second rate between consecutive readings (the mean
    is weighted by time: total increase / total time); n is the number of intervals.
    Gauges: mean and peak of the values; n is the number of readings."""

    source: str
    field: str
    unit: str
    mean: float
    peak: float
    n: int


@dataclass(frozen=True)
class SamplerCost:
    """What sampling itself cost, to subtract or at least report next to a trial's figures."""

    ticks: int  # readings of the source read most often (each source has its own thread)
    mean_tick_s: float  # perf_counter seconds to read every source once: sum of mean_read_s
    cpu_s: float  # CPU time of the sampler's threads (time.thread_time in each), summed
    wall_s: float  # from the sampler's start to its stop (or to now while it runs)
    core_share: float  # cpu_s / wall_s: the share of one core the sampler took
    mean_read_s: dict[str, float] = field(default_factory=dict)  # per source, per read
