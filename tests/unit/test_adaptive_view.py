"""The terminal's account of an adaptive run: each decided figure on a line of its own, those
the budget stopped short folded into one line (a claims run leaves a hundred of them)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis import gate, open_figures, sequential
from bench.report import adaptive_view


def _standing(label: str, stop: sequential.Stop, n: int) -> open_figures.Standing:
    call: gate.Call = "worse" if stop == "decided" else "inconclusive"
    status: sequential.Status = "DIFFERENT" if stop == "decided" else "UNKNOWN"
    outcome = sequential.Outcome(label, status, call, n, stop, "", 0.01, gate.Reason.CHANGED)
    family = open_figures.Family(label, (), 2, frozenset())
    return open_figures.Standing(family, (outcome,))


def test_the_figures_the_budget_stopped_short_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [
        _standing("startup-warm startup_s libvirt", "decided", 6),
        _standing("cpu events docker", "budget", 1),
        _standing("cpu events libvirt", "budget", 3),
    ]
    monkeypatch.setattr(adaptive_view, "standings", lambda _run: found)
    monkeypatch.setattr(adaptive_view, "stop_event", lambda _run: None)
    out: list[Any] = adaptive_view.lines(object())  # type: ignore[arg-type]
    assert "  startup-warm startup_s libvirt: worse, decided at n=6" in out
    assert not any("cpu events" in line for line in out)
    assert out[-1].startswith("  2 figure(s) stopped by the budget at n=1..3 before any verdict")
    assert "2 budget" in out[2] and "1 decided" in out[2]
