"""How often the nightly regression check cries wolf, and how fast it finds a real step:
measured on simulated nights, through the same functions the check runs (bench.analysis.run_check).

A night is FIGURES figures, each measured REPEATS times per run with the within-run noise of
today's calibration (bench.analysis.calibration's distributions: normal, log-normal, bimodal,
outlier-ridden, noisy), times a random effect per run and figure drawn from a log-normal whose
spread is the figure's noise between runs, uniform in RUN_EFFECTS (0.5-3% of the median):
what repeats inside one run cannot see. The history is `history_window` (or `min_history`)
earlier runs; each night is checked in the nightly workflow's way (`--confirm`: the suspects'
fresh runs in the same job) and in the plain way (the next night confirms).

- false: the share of nights with no change that end in exit 3 (a figure confirmed worse);
- power: the share of true steps in one figure (10%, or 5% where the noise between runs is at
  most 1%) confirmed worse within two nights;
- per_figure_gate: the old check (each figure alone, the U test on within-run repeats against
  the previous run) on the same nights, for contrast.

Seeded and pure: `python -m bench.analysis.calibration_nightly --write` stores the figures in
calibration_nightly.json for the report's method section and the README; the unit test
recomputes them, checks the promises and that the stored copy is this code's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.analysis import calibration_store, gate
from bench.analysis.calibration import DISTRIBUTIONS, PROMISED
from bench.analysis.run_check import History, Key, RunFigures, check
from bench.data.check_record import CheckRecord

STORED: Final = Path(__file__).with_name("calibration_nightly.json")
SEED: Final = 20261207
FIGURES: Final = 150
REPEATS: Final = 8
RUN_EFFECTS: Final = (0.005, 0.03)
FALSE_LIMIT: Final = 0.01
POWER_LIMIT: Final = 0.80
NIGHTS_FALSE: Final = 300  # per mode and history length
NIGHTS_POWER: Final = 100  # per step, noise and distribution
NIGHTS_OLD: Final = 60
STEPS: Final = ((0.10, (0.005, 0.01, 0.02, 0.03)), (0.05, (0.005, 0.01)))
MODES: Final = ("confirm", "next run")


@dataclass(frozen=True)
class NightRate:
    kind: str  # "false", "power" or "per_figure_gate"
    mode: str  # "confirm" (--confirm), "next run", or "-" for the old check
    history: int  # earlier runs in the history
    step: float  # the true change of one figure (0 for false)
    run_effect: float  # the stepped figure's noise between runs (NaN: drawn per figure)
    distribution: str  # the stepped figure's within-run noise ("mixed": all of them)
    hits: int
    nights: int

    @property
    def rate(self) -> float:
        return self.hits / self.nights if self.nights else math.nan


@dataclass(frozen=True)
class Night:
    """The figures of a simulated host: their within-run noise and noise between runs."""

    distributions: tuple[str, ...]
    run_effects: np.ndarray
    higher_is_better: np.ndarray

    @property
    def keys(self) -> list[Key]:
        return [(f"w{i}", "m", "p") for i in range(len(self.distributions))]


def host(rng: np.random.Generator, figures: int = FIGURES) -> Night:
    names = tuple(DISTRIBUTIONS)
    return Night(
        distributions=tuple(names[i % len(names)] for i in range(figures)),
        run_effects=rng.uniform(*RUN_EFFECTS, figures),
        higher_is_better=rng.random(figures) < 0.5,
    )


def run(rng: np.random.Generator, night: Night, run_id: str, step: float = 0.0) -> RunFigures:
    """One run: every figure's median over REPEATS, with this run's own effect; figure 0
    `step` worse (a fraction) than the host's usual."""
    values = raw_values(rng, night, step)
    medians = np.median(values, axis=1)
    keys = night.keys
    return RunFigures(
        run_id,
        {k: math.log(m) for k, m in zip(keys, medians, strict=True)},
        {k: ("u", bool(h)) for k, h in zip(keys, night.higher_is_better, strict=True)},
        "",
    )


def raw_values(rng: np.random.Generator, night: Night, step: float = 0.0) -> np.ndarray:
    """The repeats of one run, (figures, REPEATS)."""
    count = len(night.distributions)
    values = np.empty((count, REPEATS))
    for name, draw in DISTRIBUTIONS.items():
        rows = [i for i, d in enumerate(night.distributions) if d == name]
        if rows:
            values[rows] = draw(rng, len(rows) * REPEATS).reshape(len(rows), REPEATS)
    values *= np.exp(rng.normal(0.0, night.run_effects))[:, None]
    if step:
        worse = 1.0 - step if night.higher_is_better[0] else 1.0 + step
        values[0] *= worse
    return values


def _history(rng: np.random.Generator, night: Night, length: int, tag: str) -> History:
    runs = tuple(run(rng, night, f"{tag}h{i:03d}") for i in range(length))
    return History(runs, (None,) * length, None)


def _after(history: History, tonight: RunFigures, record: CheckRecord) -> History:
    """The history the next night sees: tonight's run and record appended."""
    return History((*history.runs, tonight), (*history.records, record), record)


def check_night(
    rng: np.random.Generator,
    night: Night,
    history: History,
    mode: str,
    step: float,
    tag: str,
    policy: gate.Policy,
) -> tuple[CheckRecord, RunFigures]:
    """One night as `vcbench run` checks it: screen, then confirm as the mode says."""
    tonight = run(rng, night, f"{tag}n", step)
    record = check(tonight, history, {}, (), policy)
    if mode == "confirm" and record.open_suspects:
        fresh = [run(rng, night, f"{tag}c{i}", step) for i in range(policy.confirm_runs)]
        record = check(tonight, history, {}, fresh, policy)
    return record, tonight


def false_alarm(
    mode: str, length: int, nights: int, seed: int, policy: gate.Policy = gate.DEFAULT
) -> NightRate:
    """Nights with no change that end in exit 3. In the plain mode the night before is part of
    the history and its open suspects are confirmed (or not) tonight."""
    rng = np.random.default_rng(seed)
    hits = 0
    for index in range(nights):
        night = host(rng)
        history = _history(rng, night, length, f"{index}")
        if mode == "next run":
            before, before_run = check_night(rng, night, history, mode, 0.0, f"{index}b", policy)
            history = _after(history, before_run, before)
        record, _ = check_night(rng, night, history, mode, 0.0, f"{index}", policy)
        hits += record.regressed
    return NightRate("false", mode, length, 0.0, math.nan, "mixed", hits, nights)


def power(
    step: float,
    run_effect: float,
    distribution: str,
    mode: str,
    length: int,
    nights: int,
    seed: int,
    policy: gate.Policy = gate.DEFAULT,
) -> NightRate:
    """True steps in figure 0, from the first night on, confirmed worse within two nights."""
    rng = np.random.default_rng(seed)
    hits = 0
    target: Key = ("w0", "m", "p")
    for index in range(nights):
        base = host(rng)
        effects = base.run_effects.copy()
        effects[0] = run_effect
        names = (distribution, *base.distributions[1:])
        night = Night(names, effects, base.higher_is_better)
        history = _history(rng, night, length, f"{index}")
        for evening in range(2):
            tag = f"{index}e{evening}"
            record, tonight = check_night(rng, night, history, mode, step, tag, policy)
            if any(c.worse and c.key == target for c in record.confirmations):
                hits += 1
                break
            history = _after(history, tonight, record)
    return NightRate("power", mode, length, step, run_effect, distribution, hits, nights)


def per_figure_gate(nights: int, seed: int, policy: gate.Policy = gate.DEFAULT) -> NightRate:
    """The old check on the same kind of nights: each figure's repeats tonight against the
    previous run's, the U test and the minimum effect alone (no equivalence part needed: only
    "worse" ends a night in exit 3). Counts nights with at least one "worse"."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(nights):
        night = host(rng)
        before, tonight = raw_values(rng, night), raw_values(rng, night)
        worse = False
        for i in range(len(night.distributions)):
            ratio = float(np.median(tonight[i]) / np.median(before[i]))
            p = gate.mwu(tonight[i], before[i])
            ev = gate.Evidence(
                "run b", "run a", bool(night.higher_is_better[i]), REPEATS, REPEATS, ratio,
                ratio, ratio, p, 0.0, 0.0, median_ref=float(np.median(before[i])),
            )  # fmt: skip
            decision = gate.decide(ev, policy)
            worse |= decision.call == "worse"
        hits += worse
    return NightRate("per_figure_gate", "-", 1, 0.0, math.nan, "mixed", hits, nights)


def calibrate(
    *,
    nights_false: int = NIGHTS_FALSE,
    nights_power: int = NIGHTS_POWER,
    nights_old: int = NIGHTS_OLD,
    seed: int = SEED,
    policy: gate.Policy = gate.DEFAULT,
) -> list[NightRate]:
    rates: list[NightRate] = []
    lengths = (policy.min_history, policy.history_window)
    for m, mode in enumerate(MODES):
        for length in lengths:
            rates.append(false_alarm(mode, length, nights_false, seed + 10 * m + length, policy))
    for s, (step, effects) in enumerate(STEPS):
        for e, effect in enumerate(effects):
            for d, name in enumerate(PROMISED):
                cell = seed + 1000 + 100 * s + 10 * e + d
                args = (step, effect, name, "confirm", policy.history_window)
                rates.append(power(*args, nights_power, cell, policy))
    rates.append(per_figure_gate(nights_old, seed + 5000, policy))
    return rates


def header(rates: Sequence[NightRate]) -> dict[str, Any]:
    return {
        "seed": SEED,
        "figures": FIGURES,
        "repeats": REPEATS,
        "run_effects": list(RUN_EFFECTS),
        "false_limit": FALSE_LIMIT,
        "power_limit": POWER_LIMIT,
    }


def stored() -> list[NightRate]:
    """The figures stored with this version of the check (empty if the file is missing)."""
    return calibration_store.load(STORED, NightRate)


def same(a: Sequence[NightRate], b: Sequence[NightRate]) -> bool:
    """Equal, NaN equal to NaN (the stored figures against a recomputation)."""

    def plain(r: NightRate) -> tuple[Any, ...]:
        return tuple(
            None if isinstance(v, float) and math.isnan(v) else v for v in vars(r).values()
        )

    return [plain(x) for x in a] == [plain(y) for y in b]


def _line(r: NightRate) -> str:
    return (
        f"{r.kind:<15} {r.mode:<8} history={r.history:<3} step={r.step:<5}"
        f" noise={r.run_effect:<6} {r.distribution:<14} {r.hits}/{r.nights}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    description = __doc__.splitlines()[0]
    return calibration_store.main(argv, description, STORED, calibrate, header, _line)


if __name__ == "__main__":
    raise SystemExit(main())
