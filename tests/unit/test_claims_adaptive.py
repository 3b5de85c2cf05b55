"""In an adaptive run a claim resting on trial figures is supported only where its family's
looks called every figure: the claim rule's fixed-alpha test on the values the run stopped at
is not the calibrated one (bench.analysis.calibration_sequential calibrates the looks)."""

from __future__ import annotations

from typing import Any

from bench.analysis import gate, open_figures, sequential
from bench.analysis.claims import _as_looked
from bench.analysis.claims.model import Finding


class _View:
    def __init__(self, memory_records: int = 0) -> None:
        self._memory = memory_records

    def records(self, experiment: str) -> list[Any]:
        return [object()] * self._memory if experiment == "memory" else []


def _outcome(label: str, status: sequential.Status, stop: sequential.Stop) -> sequential.Outcome:
    call: gate.Call = "better" if status == "DIFFERENT" else "inconclusive"
    return sequential.Outcome(label, status, call, 6, stop, "why", 0.0032, gate.Reason.EQUIVALENT)


def _standing(claim: str, *outcomes: sequential.Outcome) -> open_figures.Standing:
    family = open_figures.Family(claim, (), 1, frozenset())
    return open_figures.Standing(family, outcomes)


SUPPORTED = Finding("supported", "2 of 2 as claimed.")


def test_a_claim_its_looks_decided_keeps_its_verdict() -> None:
    standing = _standing(
        "C3",
        _outcome("C3: startup-warm startup_s docker vs libvirt", "DIFFERENT", "decided"),
        _outcome("C3: startup-cold startup_s docker vs libvirt", "DIFFERENT", "decided"),
    )
    assert _as_looked("C3", _View(), SUPPORTED, standing) == SUPPORTED  # type: ignore[arg-type]


def test_a_figure_the_looks_left_open_holds_the_claim_back_and_says_which() -> None:
    standing = _standing(
        "C3",
        _outcome("C3: startup-warm startup_s docker vs libvirt", "DIFFERENT", "decided"),
        _outcome("C3: startup-cold startup_s docker vs libvirt", "UNKNOWN", "budget"),
    )
    held = _as_looked("C3", _View(), SUPPORTED, standing)  # type: ignore[arg-type]
    assert held.verdict == "inconclusive"
    assert "startup-cold startup_s docker vs libvirt" in held.reason
    assert "startup-warm" not in held.reason.split("Held back")[1]


def test_only_calls_in_the_claims_direction_are_held_back() -> None:
    standing = _standing("C3", _outcome("C3: x", "UNKNOWN", "too noisy"))
    against = Finding("not supported", "0 of 2 as claimed, 2 against.")
    assert _as_looked("C3", _View(), against, standing) == against  # type: ignore[arg-type]


def test_a_fixed_run_and_c4_from_the_memory_experiment_are_left_alone() -> None:
    assert _as_looked("C3", _View(), SUPPORTED, None) == SUPPORTED  # type: ignore[arg-type]
    open_footprint = _standing("C4", _outcome("C4: idle-footprint", "UNKNOWN", "budget"))
    from_experiment = _as_looked("C4", _View(memory_records=12), SUPPORTED, open_footprint)  # type: ignore[arg-type]
    assert from_experiment == SUPPORTED
    from_footprint = _as_looked("C4", _View(), SUPPORTED, open_footprint)  # type: ignore[arg-type]
    assert from_footprint.verdict == "inconclusive"
