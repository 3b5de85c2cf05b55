"""The interleaved schedule is pure: checked here without starting or timing anything."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.run.schedule import platform_order, schedule

PLATFORMS = ("native", "docker", "libvirt")


@dataclass(frozen=True)
class W:
    name: str
    repeats: int = 3
    warmup: int = 0
    platforms: tuple[str, ...] = PLATFORMS


def test_rounds_are_outermost_and_every_measured_trial_appears_once() -> None:
    keys = list(schedule([W("a"), W("b")], PLATFORMS, seed=1))
    assert [k.round for k in keys] == sorted(k.round for k in keys)
    measured = Counter((k.round, k.workload, k.platform) for k in keys if not k.warmup)
    assert set(measured.values()) == {1} and len(measured) == 3 * 2 * 3


def test_platform_order_is_shuffled_per_round_by_the_seed_and_reproducible() -> None:
    orders = [tuple(platform_order(PLATFORMS, seed=7, round_=r)) for r in range(30)]
    assert len(set(orders)) > 1, "the order never changed over 30 rounds"
    assert orders == [tuple(platform_order(PLATFORMS, seed=7, round_=r)) for r in range(30)]
    assert list(schedule([W("a")], PLATFORMS, 7)) == list(schedule([W("a")], PLATFORMS, 7))


def test_drift_spreads_evenly_each_platform_leads_about_equally_often() -> None:
    firsts = Counter(platform_order(PLATFORMS, seed=3, round_=r)[0] for r in range(600))
    assert all(150 <= n <= 250 for n in firsts.values()), firsts


def test_warmups_come_right_before_their_measured_trial_on_the_same_platform() -> None:
    keys = list(schedule([W("a", repeats=2, warmup=2)], PLATFORMS, seed=0))
    assert len(keys) == 2 * 3 * 3
    for i, key in enumerate(keys):
        if not key.warmup:
            before = keys[i - 2 : i]
            assert [b.warmup_index for b in before] == [0, 1]
            assert {(b.round, b.platform) for b in before} == {(key.round, key.platform)}


def test_a_workload_with_fewer_repeats_stops_early_and_platforms_are_respected() -> None:
    keys = list(
        schedule(
            [W("long", repeats=3), W("short", repeats=1, platforms=("docker",))], PLATFORMS, seed=0
        )
    )
    short = [k for k in keys if k.workload == "short"]
    assert [(k.round, k.platform) for k in short] == [(0, "docker")]
    assert len(list(schedule([W("long", repeats=3)], PLATFORMS, seed=0))) == 9


def test_trial_ids_are_unique() -> None:
    keys = list(schedule([W("a", warmup=1), W("b")], PLATFORMS, seed=5))
    assert len({k.id for k in keys}) == len(keys)
