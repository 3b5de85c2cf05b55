"""The contract others code against: Source, Reading, SeriesSummary, and the Sampler that
reads every source on daemon threads around a benchmark trial.

The sampler never lets a source break a trial: a source that raises is dropped after its
first error, which is kept in .errors; the trial goes on with the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from bench.collectors.records import Field, Reading, SamplerCost, SeriesSummary, Source
from bench.collectors.summary import summarize
from bench.core.errors import BenchError

__all__ = ["Field", "Reading", "Sampler", "SamplerCost", "SeriesSummary", "Source"]

DEFAULT_RATE_HZ = 10.0


# How long leaving waits for a source stuck in a read (a wedged libvirtd, a hung QEMU monitor)
# before leaving its daemon thread behind: a trial must end even then.
JOIN_TIMEOUT_S = 10.0


@dataclass
class _Tally:
    """One source's thread's own account, written by that thread only."""

    reads: int = 0
    read_s: float = 0.0
    cpu_s: float = 0.0


class Sampler:
    """Reads every source at rate_hz from entering to leaving, once more on leaving.

    Each source has its own daemon thread on the same clock: a source that blocks (libvirt
    waits for QEMU's monitor, which a busy TCG guest can starve for seconds) delays its own
    readings only, never the others'. Readings are appended to .readings as they are made
    (in order within a source, interleaved between sources) and given to sink, one call at
    a time, on a sampler thread. Summarise them once the sampler has stopped."""

    def __init__(
        self,
        sources: Sequence[Source],
        rate_hz: float = DEFAULT_RATE_HZ,
        sink: Callable[[Reading], None] | None = None,
    ) -> None:
        if not rate_hz > 0:
            raise BenchError(f"the sampling rate must be positive, not {rate_hz}")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            # Series are keyed by source name: two sources of one name would mix their values.
            raise BenchError(f"sources must have distinct names, not {names}")
        self.readings: list[Reading] = []
        self.errors: list[str] = []
        self._sources = list(sources)
        self._fields: dict[str, Mapping[str, Field]] = {s.name: s.fields for s in sources}
        self._period = 1.0 / rate_hz
        self._sink = sink
        self._lock = threading.Lock()  # one sink call and one errors append at a time
        self._stop = threading.Event()
        self._closed = False  # set on leaving: a thread left behind must not append later
        self._threads: list[threading.Thread] = []
        self._tallies = {name: _Tally() for name in names}
        self._t0 = 0.0
        self._ended: float | None = None

    def __enter__(self) -> Sampler:
        if self._ended is not None or self._threads:
            raise BenchError("a Sampler runs once; make a new one for the next trial")
        self._t0 = time.perf_counter()
        for source in self._sources:
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"vcbench-sampler-{source.name}",
                daemon=True,
            )  # fmt: skip
            self._threads.append(thread)
            thread.start()
        if not self._threads:
            self._ended = self._t0  # nothing to read: entered and left at once
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the last readings and join the threads. Idempotent; never raises."""
        if self._ended is not None:
            return
        self._stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closed = True
            self._ended = time.perf_counter()
            for thread in self._threads:
                if thread.is_alive():
                    name = thread.name.removeprefix("vcbench-sampler-")
                    self.errors.append(f"{name}: still in a read after {JOIN_TIMEOUT_S:g} s")

    def summary(self) -> list[SeriesSummary]:
        return summarize(list(self.readings), self._fields)

    @property
    def cost(self) -> SamplerCost:
        """Read-time per source; a tick is every source read once, however many threads."""
        end = self._ended if self._ended is not None else time.perf_counter()
        wall = end - self._t0 if self._t0 else 0.0
        tallies = self._tallies.items()
        mean_read = {name: t.read_s / t.reads for name, t in tallies if t.reads}
        cpu = sum(t.cpu_s for _, t in tallies)
        return SamplerCost(
            ticks=max((t.reads for _, t in tallies), default=0),
            mean_tick_s=sum(mean_read.values()),
            cpu_s=cpu,
            wall_s=wall,
            core_share=cpu / wall if wall > 0 else 0.0,
            mean_read_s=mean_read,
        )

    def _run(self, source: Source) -> None:
        tally = self._tallies[source.name]
        cpu0 = time.thread_time()
        due = self._t0
        while self._read(source, tally):
            tally.cpu_s = time.thread_time() - cpu0
            if self._stop.is_set():
                break
            now = time.perf_counter()
            due += self._period
            if due < now:
                # A read overran its slot (a slow source, a busy host): skip the missed slots
                # rather than catch up in a burst that would only measure the sampler itself.
                due += self._period * ((now - due) // self._period + 1)
            self._stop.wait(due - now)  # returns early on stop; the loop then reads once more
        tally.cpu_s = time.thread_time() - cpu0

    def _read(self, source: Source, tally: _Tally) -> bool:
        """One reading, recorded and sunk; False once the source has failed."""
        before = time.perf_counter()
        try:
            values = source.read()
        except Exception as exc:  # any failure of a source is its own, never the trial's
            with self._lock:
                self.errors.append(f"{source.name}: {type(exc).__name__}: {exc}")
            return False
        after = time.perf_counter()
        tally.reads += 1
        tally.read_s += after - before
        # The middle of the read is the best guess of when the values were true.
        reading = Reading((before + after) / 2 - self._t0, source.name, values)
        with self._lock:
            if self._closed:
                return False
            self.readings.append(reading)
            self._emit(reading)
        return True

    def _emit(self, reading: Reading) -> None:
        if self._sink is None:
            return
        try:
            self._sink(reading)
        except Exception as exc:  # the same rule as for sources: the first error drops it
            self._sink = None
            self.errors.append(f"sink: {type(exc).__name__}: {exc}")
