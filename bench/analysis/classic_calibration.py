"""How often the classic table's rule is fooled, measured like the claims' rules
(bench.analysis.calibration, whose distributions and limits it borrows, unchanged).

Two false calls, one for each answer the table can give:
- A/A, every subject drawn from native's distribution: any row called better or worse would
  assert an ordering that is not in the data.
- At the margin, every subject worse than native by exactly the minimum effect: any row
  answered "no worse" (or better, or no difference) would clear a platform that is worse.
Two powers at n=8: the rows expecting "worse" with a true 10% effect all agreeing, and the
rows expecting "no worse" with none all agreeing. Seeded and pure;
tests/unit/test_classic.py asserts both false-call rates stay within the claims' limit.

The adaptive path (a run that repeats until decided: sequential.follow_orderings on the
family open_figures builds of the table's rows) is measured the same way, look by look up to
ADAPTIVE_DESIGN's largest n, beside the fixed table at that n on the same draws
(`calibrate_adaptive`). Its looks split alpha over both one-sided tests of every row
(Bonferroni; sequential.follow_orderings says why). Measured at 60 tables a cell: 1 false
"worse" in 300 A/A tables, 2 false "no worse" in 300 at the margin, and all "worse" rows
with a 10% effect agreeing as often as in the fixed table at the same largest n (59, 57, 60
of 60 on the promised distributions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd

from bench.analysis import calibration, classic, gate, open_figures, sequential
from bench.analysis.calibration_sequential import SeqRate

SIMS: Final = 6  # per distribution and n: each simulated run judges the whole table
RESAMPLES: Final = 200


def synthetic_frame(
    draw: calibration.Draw,
    n: int,
    rng: np.random.Generator,
    factors: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Samples for every row's subject and native, drawn alike; `factors` (row key -> factor)
    makes a row's subject that much worse (lower is better throughout)."""
    rows: list[dict[str, object]] = []
    done: set[tuple[str, str, str]] = set()
    for row in classic.ROWS:
        for platform in (classic.NATIVE, row.subject):
            if (row.workload, row.metric, platform) in done:
                continue
            done.add((row.workload, row.metric, platform))
            scale = (factors or {}).get(row.key, 1.0) if platform != classic.NATIVE else 1.0
            rows.extend(
                {
                    "workload": row.workload,
                    "metric": row.metric,
                    "platform": platform,
                    "warmup": False,
                    "value": float(v) * scale,
                    "unit": "u",
                    "higher_is_better": False,
                    "workload_hash": "h",
                    "accel": "kvm",
                    "round": i,
                }
                for i, v in enumerate(draw(rng, n))
            )
    return pd.DataFrame(rows)


# What each kind of simulated run gives every row: native's distribution times this factor.
Kind = Literal["false", "false no worse", "power", "power no worse"]
NO_WORSE_CALLS: Final = ("no worse", "no difference", "better")


def _factors(kind: Kind) -> dict[str, float]:
    if kind == "false no worse":  # every subject worse by exactly the minimum effect
        return {r.key: 1.0 + gate.MIN_EFFECT for r in classic.ROWS}
    if kind == "power":  # the rows expecting "worse" get a true effect, the others none
        return {r.key: 1.0 + calibration.EFFECT for r in classic.ROWS if r.expect == "worse"}
    return {}  # A/A: "false", and "power no worse" (every subject exactly as native)


def _hit(kind: Kind, results: Sequence[classic.ClassicResult]) -> bool:
    if kind == "false":
        return any(r.call in ("better", "worse") for r in results)
    if kind == "false no worse":
        return any(r.call in NO_WORSE_CALLS for r in results)
    expected = "worse" if kind == "power" else "no worse"
    return all(r.agreement == "agrees" for r in results if r.row.expect == expected)


def table_calls(draw: calibration.Draw, n: int, sims: int, kind: Kind, seed: int) -> int:
    """How many of `sims` simulated runs of the whole table hit: a false call of the kind
    ("false": any row called better or worse under A/A; "false no worse": any row answered
    no worse with every subject worse by the minimum effect), or, for power, every row
    expecting that ordering agreeing."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        frame = synthetic_frame(draw, n, rng, _factors(kind))
        hits += _hit(kind, classic.judge(frame, resamples=RESAMPLES, seed=seed))
    return hits


def calibrate(*, sims: int = SIMS, seed: int = calibration.SEED) -> list[calibration.Rate]:
    """The table's false-call rates of both kinds at each n, and its power for both
    orderings at n=8, per distribution."""
    rates: list[calibration.Rate] = []
    for index, (name, draw) in enumerate(calibration.DISTRIBUTIONS.items()):
        falses: tuple[Kind, ...] = ("false", "false no worse")
        for kind_index, kind in enumerate(falses):
            for n in calibration.NS:
                cell = seed + 1000 * index + 100 * kind_index + n
                hits = table_calls(draw, n, sims, kind, cell)
                rates.append(calibration.Rate("classic", name, n, kind, hits, sims))
        powers: tuple[Kind, ...] = ("power", "power no worse")
        for kind_index, kind in enumerate(powers):
            cell = seed + 1000 * index + 99 - kind_index
            hits = table_calls(draw, calibration.POWER_N, sims, kind, cell)
            rates.append(calibration.Rate("classic", name, calibration.POWER_N, kind, hits, sims))
    return rates


# the felter suite's looks: from 5 repeats a side to its max_repeats (a test holds them equal)
ADAPTIVE_DESIGN: Final = sequential.Design(max_n=12)
ADAPTIVE_SIMS: Final = 100  # per distribution and kind: each simulated run follows the table
# the ratio's interval only words a reason here ("no difference" is never an ordering's
# answer), so a few draws do: the calls are the same at any count
ADAPTIVE_RESAMPLES: Final = 20
ADAPTIVE_KINDS: Final[tuple[Kind, ...]] = ("false", "false no worse", "power")


def adaptive_calls(
    draw: calibration.Draw, sims: int, kind: Kind, seed: int, design: sequential.Design
) -> tuple[int, int, float]:
    """(adaptive hits, fixed hits on the same draws, mean n at which the table stopped)."""
    rng = np.random.default_rng(seed)
    hits = fixed = 0
    stopped = 0
    for _ in range(sims):
        frame = synthetic_frame(draw, design.max_n, rng, _factors(kind))
        family = next(f for f in open_figures.families(frame) if f.orderings)
        outcomes = sequential.follow_orderings(family.members, design, resamples=ADAPTIVE_RESAMPLES)
        stopped += max(o.n for o in outcomes)
        by_key = {o.label.split(": ", 1)[1]: o for o in outcomes}
        calls = {row.key: by_key[row.key].decided_call for row in classic.ROWS}
        looked = [
            classic.ClassicResult(
                row, classic.agreement(row.expect, calls[row.key]), calls[row.key]
            )
            for row in classic.ROWS
        ]
        hits += _hit(kind, looked)
        fixed += _hit(kind, classic.judge(frame, resamples=ADAPTIVE_RESAMPLES, seed=seed))
    return hits, fixed, stopped / sims


def calibrate_adaptive(*, sims: int = ADAPTIVE_SIMS, seed: int = calibration.SEED) -> list[SeqRate]:
    """The adaptive table's false calls of both kinds and its power ("worse" rows with a true
    10% effect all agreeing) per distribution, beside the fixed table's at the largest n."""
    rates = []
    for index, (name, draw) in enumerate(calibration.DISTRIBUTIONS.items()):
        for kind_index, kind in enumerate(ADAPTIVE_KINDS):
            cell = seed + 7000 + 1000 * index + 100 * kind_index
            hits, fixed, mean_n = adaptive_calls(draw, sims, kind, cell, ADAPTIVE_DESIGN)
            rates.append(SeqRate("classic", name, kind, hits, fixed, sims, round(mean_n, 3)))
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    for r in calibrate():
        print(f"{r.kind:<5} {r.path:<8} {r.distribution:<14} n={r.n}  {r.hits}/{r.sims}")
    for a in calibrate_adaptive():
        print(
            f"{a.kind:<14} adaptive {a.distribution:<14} {a.hits}/{a.sims}"
            f"  fixed {a.fixed_hits}/{a.sims}  mean n {a.mean_n:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
