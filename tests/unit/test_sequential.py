"""The sequential design: its looks' levels keep the false-call rate over every look within
alpha, large effects are decided early, equal figures stop as "no difference", and what is
open when the budget ends says so. The adaptive schedule measures only open pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.analysis import gate, open_figures, sequential
from bench.core.durations import parse_duration
from bench.core.errors import BenchError
from bench.run.adaptive import Adaptive, Bundle, Look, triage
from bench.run.schedule import round_keys

DESIGN = sequential.Design()  # looks at n = 5..12


def _member(factor: float, cv: float = 0.01, seed: int = 0, n: int = 12) -> sequential.Member:
    rng = np.random.default_rng(seed)
    return sequential.Member(
        "m", "docker", "native", list(rng.normal(factor, cv, n)), list(rng.normal(1, cv, n)), False
    )


@pytest.mark.parametrize(("family", "sides"), [(1, 2), (1, 1), (2, 1), (7, 2)])
def test_the_levels_hold_the_false_call_rate_over_every_look(family: int, sides: int) -> None:
    """Fresh A/A paths (another seed than the one the levels were set on): the chance that
    any look's test fires, Bonferroni over the family, stays within alpha."""
    levels = DESIGN.levels(family, sides)  # type: ignore[arg-type]
    assert all(0 <= a <= gate.ALPHA for a in levels)
    rng = np.random.default_rng(7)
    x, y = rng.random((40_000, DESIGN.max_n)), rng.random((40_000, DESIGN.max_n))
    fired = np.zeros(x.shape[0], dtype=bool)
    for n, level in zip(DESIGN.looks(), levels, strict=True):
        u = (x[:, :n, None] > y[:, None, :n]).sum(axis=(1, 2))
        table = sequential._p_table(n, sides)  # type: ignore[arg-type]
        fired |= table[u] < level / family
    assert family * fired.mean() <= gate.ALPHA


def test_no_early_level_is_below_what_the_u_test_can_reach_when_it_is_used() -> None:
    """The first look with a level above 0 is one where complete separation gets under it."""
    levels = dict(zip(DESIGN.looks(), DESIGN.levels(), strict=True))
    first = min(n for n, a in levels.items() if a > 0)
    assert gate.min_p(first, first) < levels[first]
    assert first <= 7  # a 20-fold start-up gap is called by n=7 of 12


def test_a_large_effect_is_decided_early_and_sticks() -> None:
    [out] = sequential.follow([_member(0.5)], DESIGN)
    assert (out.status, out.call, out.stop) == ("DIFFERENT", "better", "decided")
    assert out.n <= 7 and out.text() == f"decided at n={out.n}"
    [one] = sequential.follow([_member(0.5)], DESIGN, sides=1)
    assert one.n <= out.n


def test_equal_figures_stop_as_no_difference_before_the_largest_n() -> None:
    [out] = sequential.follow([_member(1.0, cv=0.005)], DESIGN)
    assert (out.status, out.stop) == ("SAME", "no difference")
    assert out.n < DESIGN.max_n


def test_noisy_equal_figures_stop_as_too_noisy_or_at_max_n() -> None:
    [out] = sequential.follow([_member(1.0, cv=0.08, seed=3, n=40)], DESIGN)
    assert out.status == "UNKNOWN" and out.stop in ("too noisy", "max n")
    assert out.call == "inconclusive"


def test_what_the_budget_cut_short_says_so_and_what_goes_on_is_open() -> None:
    short = _member(1.0, cv=0.03, seed=5, n=6)
    [ended] = sequential.follow([short], DESIGN, finished=True)
    assert ended.stop in ("budget", "no difference")
    [going] = sequential.follow([_member(1.0, cv=0.03, seed=5, n=3)], DESIGN)
    assert going.open and going.stop == "open"


def test_the_design_round_trips_through_run_json() -> None:
    adaptive = Adaptive(sequential.Design(max_n=9), 600.0)
    data = adaptive.to_json()
    assert Adaptive.from_json(data) == adaptive
    assert list(data["levels"]) == [str(n) for n in range(5, 10)]


def test_a_look_stops_for_the_budget_when_the_next_round_would_overrun() -> None:
    adaptive = Adaptive(DESIGN, 100.0)
    pairs = frozenset({("w", "docker")})
    none: frozenset[tuple[str, str]] = frozenset()
    assert Look(6, pairs, pairs, 80.0, 30.0).stop_reason(adaptive) == "budget"
    assert Look(6, pairs, pairs, 50.0, 30.0).stop_reason(adaptive) == ""
    assert Look(6, pairs, none, 50.0, 0.0).stop_reason(adaptive) == "budget"  # none fits
    assert Look(6, none, none, 50.0, 0.0).stop_reason(adaptive) == "decided"
    assert Look(3, pairs, pairs, 50.0, 30.0).stop_reason(adaptive) == ""  # before the looks
    assert Look(12, pairs, pairs, 0.0, 0.0).stop_reason(adaptive) == "max n"


def test_a_tight_budget_keeps_the_claims_families_then_the_cheapest_whole() -> None:
    a, b, c, n = ("a", "x"), ("b", "x"), ("c", "x"), ("n", "native")
    costs = {a: 10.0, b: 1.0, c: 2.0, n: 3.0}
    counts = dict.fromkeys(costs, 4)  # each family's first look (reach 6) is 2 rounds away
    claim = Bundle(True, frozenset({a}), 6)
    # b needs n (its reference) too: 2 + 6; c alone: 4; a (a claim's) first: 20, and the
    # figures leave a quarter of it (5) free
    bundles = [Bundle(False, frozenset({b, n}), 6), Bundle(False, frozenset({c}), 6), claim]
    assert triage(bundles, costs, counts, left_s=29.0) == {a, c}
    assert triage(bundles, costs, counts, left_s=28.0) == {a}  # 20 + 4 + the margin 5 > 28
    assert triage(bundles, costs, counts, left_s=20.0) == {a}  # the claim itself needs none
    assert triage(bundles, costs, counts, left_s=37.0) == {a, b, c, n}
    assert triage(bundles, costs, counts, left_s=1.0) == frozenset()
    # a pair that has fallen behind needs more rounds to reach a look: it is left out
    assert triage(bundles, costs, counts | {c: 1}, left_s=33.0) == {a, b, n}


def test_a_family_that_can_call_nothing_before_the_last_look_reserves_every_round_to_it() -> None:
    """A claim resting on six figures, one-sided, has no level above 0 before n=8 of 8; the
    budget must hold its pairs' rounds to n=8, not to a single figure's first look (n=6),
    or the cheap figures kept beside it would spend what it needs and leave it open."""
    design = sequential.Design(5, 8)
    assert design.first_look() == 6
    assert design.first_look(6, 1) == 8
    c9, cheap = ("disk", "libvirt"), ("cpu", "docker")
    costs = {c9: 10.0, cheap: 1.0}
    counts = dict.fromkeys(costs, 5)
    bundles = [Bundle(True, frozenset({c9}), 8), Bundle(False, frozenset({cheap}), 6)]
    assert triage(bundles, costs, counts, left_s=30.0) == {c9}  # 3 rounds of c9 fill it
    assert triage(bundles, costs, counts, left_s=38.5) == {c9, cheap}  # 30 + 1 + 7.5 free
    # a pair two families need is reserved once, for the more distant reach
    both = [Bundle(True, frozenset({c9}), 8), Bundle(False, frozenset({c9}), 6)]
    assert triage(both, costs, counts, left_s=30.0) == {c9}


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h", 3600), ("90", 90), ("1.5m", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "0m", "-5m", "5d"])
def test_a_bad_duration_is_a_one_line_error(text: str) -> None:
    with pytest.raises(BenchError, match="--budget"):
        parse_duration(text)


class _W:
    def __init__(self, name: str, platforms: tuple[str, ...]) -> None:
        self.name, self.repeats, self.warmup, self.platforms = name, 3, 0, platforms


def test_a_round_measures_only_the_open_pairs_in_the_rounds_shuffled_order() -> None:
    ws = [_W("a", ("native", "docker", "libvirt")), _W("b", ("native", "docker", "libvirt"))]
    platforms = ("native", "docker", "libvirt")
    full = list(round_keys(ws, platforms, 1, 7, {(w.name, p) for w in ws for p in platforms}))
    assert len(full) == 6  # past the workloads' repeats: an adaptive round
    only = {("a", "native"), ("a", "libvirt")}
    keys = list(round_keys(ws, platforms, 1, 7, only))
    assert [(k.workload, k.platform) for k in keys] == [
        (k.workload, k.platform) for k in full if (k.workload, k.platform) in only
    ]
    assert list(round_keys(ws, platforms, 1, 7)) == []  # fixed repeats: round 7 is past them


def _frame(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = [
        {"workload": w, "metric": m, "platform": p, "warmup": False, "value": v, "unit": "s",
         "higher_is_better": False, "round": i, "origin": "workload"}
        for (w, m, p), vs in values.items()
        for i, v in enumerate(vs)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_decided_figure_frees_its_pairs_and_a_claim_family_keeps_its_own_open() -> None:
    rng = np.random.default_rng(2)
    near = list(rng.normal(1.0, 0.03, 7))
    values = {
        ("startup-warm", "startup_s", "native"): list(rng.normal(0.2, 0.002, 7)),
        ("startup-warm", "startup_s", "docker"): list(rng.normal(0.4, 0.004, 7)),
        ("startup-warm", "startup_s", "libvirt"): list(rng.normal(9.0, 0.09, 7)),
        ("cpu", "events", "native"): near,
        ("cpu", "events", "docker"): list(rng.normal(1.0, 0.03, 7)),
    }
    found = open_figures.standings(_frame(values), DESIGN)
    labels = {s.family.label: s for s in found}
    assert not labels["startup-warm startup_s libvirt"].open  # 45 times native: decided
    assert labels["cpu events docker"].open
    assert "C3" in labels and labels["C3"].family.sides == 1
    pairs = open_figures.open_pairs(found)
    assert ("cpu", "docker") in pairs and ("cpu", "native") in pairs
    assert ("startup-warm", "libvirt") not in pairs


def test_c8_steers_a_hardware_vms_pairs_and_none_under_emulation() -> None:
    """C8 (the VM's cost against native) is a claim family of seven two-sided figures where
    the VM is virtualised; under TCG the claim is not measurable, so its pairs steer nothing
    and a tight budget need not hold them."""
    rng = np.random.default_rng(3)
    values = {
        ("cpu-sysbench", "events_per_s", p): list(rng.normal(100.0, 1.0, 5))
        for p in ("native", "libvirt")
    }
    hardware = {s.family.label: s for s in open_figures.standings(_frame(values), DESIGN)}
    assert hardware["C8"].family.sides == 2
    assert hardware["C8"].family.pairs == {("cpu-sysbench", "native"), ("cpu-sysbench", "libvirt")}
    emulated = open_figures.standings(_frame(values), DESIGN, vm_emulated=True)
    assert "C8" not in {s.family.label for s in emulated}


def test_a_pairs_cost_is_per_round_it_ran_in_so_one_left_out_does_not_look_cheaper() -> None:
    """The budget's triage prices a pair by its time per measured round: averaged over every
    round instead, a pair it left out of round 1 came back at half its cost in round 2, and
    the cheap-looking figures spent what a claim's family needed."""
    from bench.data.results import Trial
    from bench.run.adaptive import _costs

    def trial(round_: int, platform: str, seconds: float, warmup: bool = False) -> Trial:
        return Trial(f"r{round_}-w-{platform}", round_, "w", "h", platform, warmup, "ok",
                     100.0 * round_, 100.0 * round_ + seconds, "i", "host")  # fmt: skip

    trials = [
        *(trial(0, "docker", 4.0), trial(0, "docker", 1.0, warmup=True), trial(0, "native", 2.0)),
        *(trial(1, "native", 2.0), trial(2, "native", 2.0), trial(2, "docker", 5.0)),
    ]
    assert _costs(trials) == {("w", "docker"): 5.0, ("w", "native"): 2.0}


def test_the_stop_at_the_largest_n_tells_undecided_pairs_from_those_left_short() -> None:
    a, b, c = ("w", "native"), ("w", "docker"), ("x", "docker")
    look = Look(12, frozenset({a, b, c}), frozenset({a, b}), 0.0, 0.0, short=frozenset({c}))
    assert look.at_max_n(12) == (
        "the largest n (12) reached; 2 pair(s) reached it with a figure undecided;"
        " 1 pair(s) left short of it by the budget"
    )
    assert Look(12, frozenset(), frozenset(), 0.0, 0.0).at_max_n(12) == "the largest n (12) reached"
