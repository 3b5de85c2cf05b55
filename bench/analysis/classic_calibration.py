"""How often the classic table's rule is fooled, measured like the claims' rules
(bench.analysis.calibration, whose distributions and limits it borrows, unchanged).

A/A: every subject drawn from native's distribution. A false call is any row the gate calls
better or worse there: the table would then assert an ordering that is not in the data.
Power: the rows that expect "worse" get a true 10% effect (the others none); a hit is a run
in which every one of them agrees. Seeded and pure; tests/unit/test_classic.py asserts the
false-call rate stays within the claims' limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd

from bench.analysis import calibration, classic

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


def table_calls(draw: calibration.Draw, n: int, sims: int, factor: float, seed: int) -> int:
    """A/A (factor 1): runs with any row called better or worse. Otherwise: runs in which
    every row expecting "worse" agrees."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        factors = {r.key: factor for r in classic.ROWS if r.expect == "worse"}
        frame = synthetic_frame(draw, n, rng, factors)
        results = classic.judge(frame, resamples=RESAMPLES, seed=seed)
        if factor == 1.0:
            hits += any(r.call in ("better", "worse") for r in results)
        else:
            hits += all(r.agreement == "agrees" for r in results if r.row.expect == "worse")
    return hits


def calibrate(*, sims: int = SIMS, seed: int = calibration.SEED) -> list[calibration.Rate]:
    """The table's false-call rate at each n and its power at n=8, per distribution."""
    rates: list[calibration.Rate] = []
    for index, (name, draw) in enumerate(calibration.DISTRIBUTIONS.items()):
        for n in calibration.NS:
            cell = seed + 1000 * index + n
            hits = table_calls(draw, n, sims, 1.0, cell)
            rates.append(calibration.Rate("classic", name, n, "false", hits, sims))
        cell = seed + 1000 * index + 99
        hits = table_calls(draw, calibration.POWER_N, sims, 1 + calibration.EFFECT, cell)
        rates.append(calibration.Rate("classic", name, calibration.POWER_N, "power", hits, sims))
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    for r in calibrate():
        print(f"{r.kind:<5} {r.path:<8} {r.distribution:<14} n={r.n}  {r.hits}/{r.sims}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
