"""Readings -> one summary per (source, field): pure, so it is tested on hand-made readings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

from bench.collectors.records import Field, Reading, SeriesSummary, gauge

# A field no source describes is summarised as what it is most likely to be: a plain value.
_UNKNOWN = gauge("")


def summarize(
    readings: Sequence[Reading], fields: Mapping[str, Mapping[str, Field]]
) -> list[SeriesSummary]:
    """fields: source name -> its field descriptions. Series come in order of first reading."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for reading in readings:
        for name, value in reading.values.items():
            series.setdefault((reading.source, name), []).append((reading.t, value))
    out: list[SeriesSummary] = []
    for (source, name), points in series.items():
        described = fields.get(source, {}).get(name, _UNKNOWN)
        summary = (
            _gauge(source, name, described, points)
            if described.kind == "gauge"
            else _counter(source, name, described, points)
        )
        if summary is not None:
            out.append(summary)
    return out


def _gauge(
    source: str, name: str, described: Field, points: list[tuple[float, float]]
) -> SeriesSummary:
    values = [v for _, v in points]
    return SeriesSummary(
        source, name, described.summary_unit, sum(values) / len(values), max(values), len(values)
    )


def _counter(
    source: str, name: str, described: Field, points: list[tuple[float, float]]
) -> SeriesSummary | None:
    """None when no interval is usable: a rate needs two readings."""
    intervals = list(_intervals(points))
    if not intervals:
        return None
    total = sum(delta for delta, _ in intervals)
    span = sum(dt for _, dt in intervals)
    peak = max(delta / dt for delta, dt in intervals)
    return SeriesSummary(source, name, described.summary_unit, total / span, peak, len(intervals))


def _intervals(points: list[tuple[float, float]]) -> Iterable[tuple[float, float]]:
    """(increase, seconds) between consecutive readings. A decrease is a reset (a process
    left, a counter wrapped): that interval says nothing about the rate and is left out."""
    for (t0, v0), (t1, v1) in pairwise(points):
        dt = t1 - t0
        if dt > 0 and v1 >= v0:
            yield v1 - v0, dt
