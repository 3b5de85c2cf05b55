"""The interleaved schedule: a pure generator, unit-tested without timing anything.

Rounds are outermost and the platform order is shuffled per round by the seed, so slow
drift of the host (thermal, page cache, other tenants) spreads evenly over the platforms
instead of landing on whichever ran last (asv's iter_run_items, hyperfine's interleaving).
A workload's warm-ups run right before its measured trial, on the same instance.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
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
        order = platform_order(platforms, seed, round_)
        for workload in workloads:
            if round_ >= workload.repeats:
                continue
            for platform in order:
                if base_of(platform) not in workload.platforms:  # libvirt-tuned is libvirt
                    continue
                for index in range(workload.warmup):
                    yield TrialKey(round_, workload.name, platform, index)
                yield TrialKey(round_, workload.name, platform)
