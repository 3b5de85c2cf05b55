"""How often the adaptive path is fooled: the sequential design of bench.analysis.sequential
simulated look by look on bench.analysis.calibration's distributions (imported, not copied).

Per figure (one comparison, two-sided, as the summary table judges it) and per claim family
(the trial figures a claim rests on together, judged with Holm, one-sided where the claim
states its direction): the false-call rate under A/A over every look, and the power against
a true 10% effect next to the fixed design's at the same largest n, on the same draws (the
fixed design is the gate at DEFAULT alpha on all max_n values). The mean n at which figures
stopped shows what the adaptive path saves.

`python -m bench.analysis.calibration_sequential --write` stores the figures beside this
module; tests/unit/test_calibration_sequential.py recomputes them and checks they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.analysis import calibration_store, gate, sequential
from bench.analysis.calibration import DISTRIBUTIONS, EFFECT, FALSE_LIMIT, PROMISED, Draw

STORED: Final = Path(__file__).with_name("calibration_sequential.json")
SEED: Final = 20261207
DESIGN: Final = sequential.Design(max_n=8)  # calibration.POWER_N: the fixed design's n
SIMS_FIGURE: Final = 600
SIMS_FAMILY: Final = 300
RESAMPLES: Final = 200  # the ratio interval only steers "no difference", never a call
# The claim families measurable from trials: (members, sides). C3: docker starts faster than
# the VM (warm, cold); C13: gVisor starts faster and makes system calls slower (3 figures);
# C8: seven throughput and latency figures against native; C9: six device figures; C4: the
# container's idle memory below the VM's (one figure, one-sided). New paths go last: a
# path's seed is its place in the table, so the stored cells before it stay as they are.
FAMILIES: Final[dict[str, tuple[int, sequential.Sides]]] = {
    "C3": (2, 1),
    "C13": (3, 1),
    "C8": (7, 2),
    "C9": (6, 1),
    "C4": (1, 1),
}


@dataclass(frozen=True)
class SeqRate:
    path: str  # "figure" or a claim
    distribution: str
    kind: str  # "false" (A/A) or "power" (a true 10% effect)
    hits: int  # adaptive calls
    fixed_hits: int  # the fixed design's, on the same draws
    sims: int
    mean_n: float  # the n a side at which the adaptive path stopped, on average

    @property
    def rate(self) -> float:
        return self.hits / self.sims

    @property
    def fixed_rate(self) -> float:
        return self.fixed_hits / self.sims


def _members(draw: Draw, m: int, factor: float, rng: np.random.Generator) -> list[Any]:
    n = DESIGN.max_n
    return [
        sequential.Member(f"f{i}", "b", "a", list(draw(rng, n) * factor), list(draw(rng, n)), False)
        for i in range(m)
    ]


def simulate(
    draw: Draw, m: int, sides: sequential.Sides, factor: float, sims: int, seed: int
) -> tuple[int, int, float]:
    """(adaptive hits, fixed hits, mean stopping n) over `sims` families of `m` figures.
    A hit: any call under A/A (a false call); every figure called better under A/B."""
    rng = np.random.default_rng(seed)
    hits = fixed = 0
    stopped = 0
    want_all = factor != 1.0
    for _ in range(sims):
        members = _members(draw, m, factor, rng)
        outcomes = sequential.follow(members, DESIGN, sides=sides, resamples=RESAMPLES)
        stopped += max(o.n for o in outcomes)
        calls = [o.call for o in outcomes]
        final = _fixed(members, sides)
        hits += _hit(calls, want_all)
        fixed += _hit(final, want_all)
    return hits, fixed, stopped / sims


def _fixed(members: Sequence[sequential.Member], sides: sequential.Sides) -> list[gate.Call]:
    """The fixed design: the gate at its own alpha on all max_n values a side."""
    n = DESIGN.max_n
    evidences = [sequential.look_evidence(m, n, sides, RESAMPLES) for m in members]
    return [d.call for d in gate.decide_family(evidences)]


def _hit(calls: Sequence[gate.Call], want_all: bool) -> bool:
    if want_all:
        return all(c == "better" for c in calls)
    return any(c in ("better", "worse") for c in calls)


def paths(sims_figure: int = SIMS_FIGURE, sims_family: int = SIMS_FAMILY) -> dict[str, Any]:
    """path -> (family size, sides, sims): one figure, then each claim family."""
    return {
        "figure": (1, 2, sims_figure),
        **{k: (m, sides, sims_family) for k, (m, sides) in FAMILIES.items()},
    }


def cell(path: str, distribution: str, kind: str, *, seed: int = SEED, **sims: int) -> SeqRate:
    """One figure of the table, recomputed alone (the test checks a few against the store)."""
    table = paths(**sims)
    m, sides, count = table[path]
    index = list(DISTRIBUTIONS).index(distribution)
    at = seed + 1000 * index + 10 * list(table).index(path) + (kind == "power")
    factor = 1.0 if kind == "false" else 1 - EFFECT
    hits, fixed, mean_n = simulate(DISTRIBUTIONS[distribution], m, sides, factor, count, at)
    return SeqRate(path, distribution, kind, hits, fixed, count, round(mean_n, 3))


def calibrate(*, sims_figure: int = SIMS_FIGURE, sims_family: int = SIMS_FAMILY) -> list[SeqRate]:
    return [
        cell(path, name, kind, sims_figure=sims_figure, sims_family=sims_family)
        for name in DISTRIBUTIONS
        for path in paths()
        for kind in ("false", "power")
    ]


def header(rates: Sequence[SeqRate]) -> dict[str, Any]:
    return {
        "seed": SEED,
        "design": DESIGN.to_json(),
        "effect": EFFECT,
        "false_limit": FALSE_LIMIT,
        "promised": list(PROMISED),
    }


def stored() -> list[SeqRate]:
    return calibration_store.load(STORED, SeqRate)


def _line(r: SeqRate) -> str:
    return (
        f"{r.kind:<5} {r.path:<6} {r.distribution:<14} adaptive {r.hits}/{r.sims}"
        f"  fixed {r.fixed_hits}/{r.sims}  mean n {r.mean_n:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    description = (__doc__ or "").splitlines()[0]
    return calibration_store.main(argv, description, STORED, calibrate, header, _line)


if __name__ == "__main__":
    raise SystemExit(main())
