"""The classic table of a run: classic.judge on its samples, each row's call taken from the
run's looks where it repeated until decided (bench.analysis.adaptive_run), never from a
fixed-alpha test on the values an adaptive run stopped at: that would not be calibrated."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from bench.analysis import adaptive_run, classic, sequential
from bench.analysis.claims.evidence import RunView
from bench.data.results import RunData
from bench.data.run_meta import min_effects


def assess(run: RunData) -> list[classic.ClassicResult]:
    """The classic table of a run; empty when the run measured none of its workloads."""
    view = RunView(run)
    wanted = {(row.workload, row.metric) for row in classic.ROWS}
    if not any((s.workload, s.metric) in wanted for s in view.samples):
        return []
    frame = view.workload_frame(wanted)
    frame = frame[frame["status"] == "ok"] if "status" in frame else frame
    results = classic.judge(frame, tcg=view.tcg, effects=min_effects(run.meta))
    return as_looked(results, looks(run))


def looks(run: RunData) -> dict[str, sequential.Outcome]:
    """Row key -> where the adaptive run's looks left it (empty for fixed repeats)."""
    return {
        o.label.split(": ", 1)[1]: o
        for s in adaptive_run.standings(run)
        if s.family.orderings
        for o in s.outcomes
    }


def as_looked(
    results: list[classic.ClassicResult], looked: Mapping[str, sequential.Outcome]
) -> list[classic.ClassicResult]:
    """Each measured row's call and reason from its looks: what they decided, at which n and
    level, or why they stopped without a call; its ratio and interval stay those of all its
    values."""
    out = []
    for r in results:
        outcome = looked.get(r.row.key)
        if outcome is None or r.agreement == "not measured":
            out.append(r)
            continue
        call = outcome.decided_call
        reason = f"{outcome.text()} (alpha {outcome.level:.2g}): {outcome.reason}"
        agreement = classic.agreement(r.row.expect, call)
        out.append(dataclasses.replace(r, call=call, agreement=agreement, reason=reason))
    return out
