"""The classic table in a run that repeats until decided: its rows are one ordering family
whose looks keep their pairs open until each row is called worse, better or no worse; the
table's calls come from those looks; and the adaptive path is calibrated like the fixed one
(no false "worse" under A/A, no false "no worse" at the margin, the fixed table's power)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis import (
    calibration,
    classic,
    classic_calibration,
    gate,
    open_figures,
    sequential,
)
from bench.analysis.classic_run import as_looked
from bench.core.workload import load_suite
from tests.support.calibration_checks import assert_false_calls_within

DESIGN = sequential.Design(max_n=12)


def _member(factor: float, cv: float, seed: int, n: int = 12) -> sequential.Member:
    rng = np.random.default_rng(seed)
    mine, theirs = rng.normal(factor, cv, n), rng.normal(1.0, cv, n)
    return sequential.Member("classic: r", "docker", "native", list(mine), list(theirs), False)


def test_the_calibrated_design_is_the_felter_suites() -> None:
    suite = load_suite("felter")
    assert suite.max_repeats == classic_calibration.ADAPTIVE_DESIGN.max_n == DESIGN.max_n
    assert suite.budget is not None


def test_a_clear_row_is_decided_and_sticks_and_the_family_stops_when_all_are() -> None:
    worse, same = _member(1.5, 0.01, 1), _member(1.0, 0.002, 2)
    outcomes = sequential.follow_orderings([worse, same], DESIGN)
    assert [(o.call, o.stop) for o in outcomes] == [("worse", "decided"), ("no worse", "decided")]
    assert [o.status for o in outcomes] == ["DIFFERENT", "SAME"]
    assert max(o.n for o in outcomes) < DESIGN.max_n  # decided before the largest n


def test_a_noisy_row_runs_to_the_largest_n_and_says_so() -> None:
    [noisy] = sequential.follow_orderings([_member(1.0, 0.3, 3)], DESIGN)
    assert (noisy.stop, noisy.status, noisy.n) == ("max n", "UNKNOWN", DESIGN.max_n)
    [short] = sequential.follow_orderings([_member(1.0, 0.3, 3, n=6)], DESIGN, finished=True)
    assert short.stop == "budget" and short.call == "inconclusive"


def test_the_rows_a_run_measures_are_one_ordering_family_that_holds_their_pairs() -> None:
    rng = np.random.default_rng(4)
    frame = classic_calibration.synthetic_frame(calibration.DISTRIBUTIONS["normal 3%"], 6, rng)
    [table] = [f for f in open_figures.families(frame) if f.orderings]
    assert table.judged_whole and table.label == classic.SUBJECT
    assert len(table.members) == len(classic.ROWS)
    assert ("app-redis-c50", "docker-nat") in table.pairs
    assert ("app-redis-c50", "native") in table.pairs


def test_the_tables_calls_come_from_the_looks() -> None:
    row = classic.ROWS[0]  # hpl-docker, expected no worse
    fixed = classic.ClassicResult(row, "agrees", call="no worse", reason="fixed", n=12, n_ref=12)
    why = "worse by 3% not ruled out"
    code = gate.Reason.NOT_SIGNIFICANT
    label = f"classic: {row.key}"
    open_ = sequential.Outcome(label, "UNKNOWN", "inconclusive", 12, "max n", why, 0.01, code)
    [held] = as_looked([fixed], {row.key: open_})
    assert (held.call, held.agreement) == ("inconclusive", "inconclusive")
    assert "largest n reached" in held.reason and held.n == 12
    missing = classic.ClassicResult(row, "not measured")
    assert as_looked([missing], {row.key: open_}) == [missing]


@pytest.mark.slow
def test_the_adaptive_table_is_calibrated_and_keeps_its_power() -> None:
    """Both false calls within 1% over every look; all "worse" rows with a 10% effect agree
    in at least 80% of tables on the promised distributions, and at least as often as in the
    fixed table at the same largest n."""
    rates = classic_calibration.calibrate_adaptive(sims=40)
    for kind in ("false", "false no worse"):
        cells = [(kind, r.hits, r.sims, r) for r in rates if r.kind == kind]
        assert len(cells) == len(calibration.DISTRIBUTIONS)
        assert_false_calls_within(cells, calibration.FALSE_LIMIT)
    power = [r for r in rates if r.kind == "power" and r.distribution in calibration.PROMISED]
    assert len(power) == len(calibration.PROMISED)
    assert all(r.rate >= calibration.POWER_LIMIT for r in power), power
    assert all(r.hits >= r.fixed_hits for r in power), power


def test_a_decided_row_frees_its_platform_while_an_open_row_keeps_its_own() -> None:
    """The VM's rows, called early, stop costing VM trials; a noisy container row goes on,
    with native beside it (native's pair stays open while any row of that workload is)."""
    rng = np.random.default_rng(6)

    def noisy(r: np.random.Generator, k: int) -> np.ndarray:
        return r.lognormal(0.0, 0.3, k)

    factors = {r.key: 10.0 for r in classic.ROWS if r.subject == "libvirt"}
    frame = classic_calibration.synthetic_frame(noisy, 9, rng, factors)
    found = [s for s in open_figures.standings(frame, DESIGN) if s.family.orderings]
    [table] = found
    calls = {o.label: o for o in table.outcomes}
    assert calls["classic: hpl-kvm"].call == "worse" and not calls["classic: hpl-kvm"].open
    assert calls["classic: hpl-docker"].open
    assert ("app-hpcc", "libvirt") not in table.open_pairs
    assert {("app-hpcc", "docker"), ("app-hpcc", "native")} <= table.open_pairs


def test_a_row_is_looked_at_as_far_as_its_own_values_go_not_its_family_s_shortest() -> None:
    """The VM's rows stop at n=8; the containers' rows the run measured on to 12 are looked
    at up to 12 (looking at every row only up to the shortest stopped them all at 8)."""
    vm, container = _member(1.5, 0.01, 1, n=8), _member(1.0, 0.3, 3, n=12)
    first, second = sequential.follow_orderings([vm, container], DESIGN, finished=True)
    assert first.call == "worse" and first.n <= 8
    assert (second.n, second.stop) == (12, "max n")
