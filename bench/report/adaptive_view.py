"""An adaptive run's verdicts as its looks gave them: the summary table's verdict and reason
for each figure come from the look that decided it (bench.analysis.sequential), not from a
fixed-alpha test on the values the run happened to stop at (that would not be calibrated),
and the terminal says, per figure and claim family, at which n it was decided or why not."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from bench.analysis import sequential
from bench.analysis.adaptive_run import standings, stop_event
from bench.data.results import RunData


def overlay(run: RunData, table: pd.DataFrame) -> pd.DataFrame:
    """The summary table with each compared figure's verdict and reason from its looks."""
    found = standings(run)
    if not found or table.empty:
        return table
    by_label = {s.family.label: s.outcomes[0] for s in found if not s.family.judged_whole}
    table = table.copy()
    for i, row in table.iterrows():
        outcome = by_label.get(f"{row['workload']} {row['metric']} {row['platform']}")
        if outcome is not None:
            table.at[i, "verdict"] = outcome.call
            table.at[i, "code"] = str(outcome.code)
            table.at[i, "reason"] = (
                f"{outcome.text()} (alpha {outcome.level:.2g}): {outcome.reason}"
            )
    return table


def lines(run: RunData) -> list[str]:
    """What the adaptive schedule did: why it stopped, the figures by status, each claim
    family's standing."""
    found = standings(run)
    if not found:
        return []
    stop = stop_event(run)
    head = f"adaptive: {stop.message}" if stop else "adaptive: the run did not reach its end"
    figures = [s.outcomes[0] for s in found if not s.family.judged_whole]
    counts = Counter(o.status for o in figures)
    stops = Counter(o.stop for o in figures)
    out = [
        head,
        "  figures: "
        + ", ".join(
            f"{counts[k]} {k}" for k in ("DIFFERENT", "SAME", "UNKNOWN", "OPEN") if counts[k]
        ),
        "  why they stopped: " + ", ".join(f"{v} {k}" for k, v in stops.most_common()),
    ]
    # One line for the figures the budget stopped short (a claims run leaves a hundred at
    # n=1): the summary table above and the report still give each its own reason.
    short = [o for o in figures if o.stop == "budget"]
    for o in figures:
        if o.stop != "budget":
            out.append(f"  {o.label}: {_said(o)}")
    if short:
        ns = sorted({o.n for o in short})
        span = f"n={ns[0]}" if len(ns) == 1 else f"n={ns[0]}..{ns[-1]}"
        out.append(
            f"  {len(short)} figure(s) stopped by the budget at {span} before any verdict"
            " (the claims' families go first; the summary table gives each)"
        )
    for s in found:
        if s.family.judged_whole:
            calls = "; ".join(f"{o.label.split(': ', 1)[-1]} {_said(o)}" for o in s.outcomes)
            out.append(f"  {s.family.label}: {calls}")
    return out


def _said(o: sequential.Outcome) -> str:
    return o.text() if o.stop == "no difference" else f"{o.call}, {o.text()}"
