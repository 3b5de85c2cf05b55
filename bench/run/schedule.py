"""The interleaved schedule: a pure generator, unit-tested without timing anything.

Rounds are outermost and the platform order is shuffled per round by the seed, so slow
drift of the host (thermal, page cache, other tenants) spreads evenly over the platforms
instead of landing on whichever ran last (asv's iter_run_items, hyperfine's interleaving).
A workload's warm-ups run right before its measured trial, on the same instance.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator, Sequence
from typing import Protocol

from bench.core.platform_names import base_of
from bench.data.results import TrialKey


class Schedulable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def repeats(self) -> int: ...
    @property
    def warmup(self) -> int: ...
    @property
    def platforms(self) -> tuple[str, ...]: ...


def platform_order(platforms: Sequence[str], seed: int, round_: int) -> list[str]:
    order = list(platforms)
    random.Random(f"{seed}:{round_}").shuffle(order)
    return order


def schedule(
    workloads: Sequence[Schedulable], platforms: Sequence[str], seed: int
) -> Iterator[TrialKey]:
    rounds = max((w.repeats for w in workloads), default=0)
    for round_ in range(rounds):
        yield from round_keys(workloads, platforms, seed, round_)


def round_keys(
    workloads: Sequence[Schedulable],
    platforms: Sequence[str],
    seed: int,
    round_: int,
    only: Collection[tuple[str, str]] | None = None,
) -> Iterator[TrialKey]:
    """One round: every workload that still repeats, on each platform in this round's
    order; `only` (an adaptive run's open (workload, platform) pairs) narrows it."""
    order = platform_order(platforms, seed, round_)
    for workload in workloads:
        if only is None and round_ >= workload.repeats:
            continue
        for platform in order:
            if base_of(platform) not in workload.platforms:  # libvirt-tuned is libvirt
                continue
            if only is not None and (workload.name, platform) not in only:
                continue
            for index in range(workload.warmup):
                yield TrialKey(round_, workload.name, platform, index)
            yield TrialKey(round_, workload.name, platform)
