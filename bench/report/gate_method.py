"""The gate's Method section: its thresholds and how often it is fooled, from
bench.analysis.calibration's stored table."""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import calibration, gate


@dataclass(frozen=True)
class GateMethod:
    """The gate's thresholds and how often it is fooled (bench.analysis.calibration's table)."""

    alpha: float
    min_effect: float
    min_repeats: int
    effect: float
    ns: tuple[int, ...]
    distributions: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # path, false by n, power


def gate_method() -> GateMethod:
    rates = calibration.stored()
    ns = tuple(sorted({r.n for r in rates if r.kind == "false"}))
    dists = tuple(dict.fromkeys(r.distribution for r in rates if r.kind == "power"))
    paths = tuple(dict.fromkeys(r.path for r in rates))

    def share(chosen: list[calibration.Rate]) -> str:
        hits, sims = sum(r.hits for r in chosen), sum(r.sims for r in chosen)
        return f"{hits / sims:.1%} ({hits}/{sims})" if sims else "-"

    rows = tuple(
        (
            path,
            tuple(
                share([r for r in rates if (r.path, r.kind, r.n) == (path, "false", n)]) for n in ns
            ),
            tuple(
                share([r for r in rates if (r.path, r.kind, r.distribution) == (path, "power", d)])
                for d in dists
            ),
        )
        for path in paths
    )
    policy = gate.DEFAULT
    return GateMethod(
        policy.alpha, policy.min_effect, policy.min_repeats, calibration.EFFECT, ns, dists, rows
    )
