"""How often the gate is fooled: false calls under A/A and power against a known effect.

Every verdict path (the summary table, `vcbench compare` and the regression check, each
claim's rule) is run on synthetic data whose truth is known: A/A, both sides drawn from the
same distribution, where any "better"/"worse" or "supported"/"partly supported" is false; and
A/B with a true 10% effect, where the gate should find it. The distributions look like
benchmark noise: normal, log-normal (right-skewed), bimodal (two CPU frequency states) and
normal with one-sided outliers (interference only slows a run down), at 3% spread; and a
noisy one (8% CV, beyond the gate's CV limit) for the false-call rate only.

Seeded and pure: the same code gives the same figures, so `python -m bench.analysis.calibration
--write` stores them (bench/calibration.json) for every report's method section, and the
unit test recomputes them and checks they still hold and still match.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bench.analysis import calibration_store, stats
from bench.analysis.claims import costs, evidence, resilience, speed
from bench.analysis.claims.model import Finding
from bench.data.results import ExperimentRecord, RunData, Sample

STORED: Final = Path(__file__).with_name("calibration.json")
SEED: Final = 20261204
NS: Final = (2, 3, 5, 8)
POWER_N: Final = 8
EFFECT: Final = 0.10
FALSE_LIMIT: Final = 0.01  # what the tests assert: at most 1% false calls
POWER_LIMIT: Final = 0.80
SIMS_PATH: Final = 100  # per distribution and n, for the summary and compare paths
SIMS_CLAIM: Final = 6  # per distribution and n, for each claim (each is a whole rule)
CENTRE: Final = 1000.0

Draw = Callable[[np.random.Generator, int], np.ndarray]


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(CENTRE, 0.03 * CENTRE, n)


def _lognormal(rng: np.random.Generator, n: int) -> np.ndarray:
    return CENTRE * np.exp(rng.normal(0.0, 0.03, n))


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    high = rng.random(n) < 0.3
    return rng.normal(CENTRE, 0.01 * CENTRE, n) * np.where(high, 1.04, 1.0)


def _outliers(rng: np.random.Generator, n: int) -> np.ndarray:
    slow = rng.random(n) < 0.1  # a tenth of the runs hit by interference, 30% slower
    return rng.normal(CENTRE, 0.02 * CENTRE, n) / np.where(slow, 1.3, 1.0)


def _noisy(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(CENTRE, 0.08 * CENTRE, n)


DISTRIBUTIONS: Final[dict[str, Draw]] = {
    "normal 3%": _normal,
    "log-normal 3%": _lognormal,
    "bimodal": _bimodal,
    "outliers 10%": _outliers,
    "noisy 8%": _noisy,
}
# Power is promised (>= 80% at n=8) where the noise is what a quiet host gives; with a tenth
# of the runs hit by interference, or an 8% CV, it is measured and shown, not promised.
POWER_DISTRIBUTIONS: Final = ("normal 3%", "log-normal 3%", "bimodal", "outliers 10%", "noisy 8%")
PROMISED: Final = ("normal 3%", "log-normal 3%", "bimodal")


@dataclass(frozen=True)
class Rate:
    path: str
    distribution: str
    n: int
    kind: str  # "false" (A/A) or "power" (a true 10% effect)
    hits: int
    sims: int

    @property
    def rate(self) -> float:
        return self.hits / self.sims if self.sims else math.nan


# --- the summary table and compare: many comparisons in one call --------------------------------


def _frame(
    platform_values: Iterable[tuple[str, str, np.ndarray]], hib: bool = True
) -> pd.DataFrame:
    rows = [
        {
            "workload": workload,
            "metric": "m",
            "platform": platform,
            "warmup": False,
            "value": float(v),
            "unit": "u",
            "higher_is_better": hib,
            "workload_hash": "h",
            "accel": "kvm",
            "round": i,
        }
        for workload, platform, values in platform_values
        for i, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


def _pairs(draw: Draw, n: int, sims: int, factor: float, rng: np.random.Generator) -> list[Any]:
    return [(f"s{i}", draw(rng, n), draw(rng, n) * factor) for i in range(sims)]


def summary_calls(draw: Draw, n: int, sims: int, factor: float, seed: int) -> int:
    """How many of `sims` docker-vs-native comparisons the summary calls better or worse."""
    rng = np.random.default_rng(seed)
    pairs = _pairs(draw, n, sims, factor, rng)
    frame = _frame(
        [(w, "native", a) for w, a, _ in pairs] + [(w, "docker", b) for w, _, b in pairs]
    )
    table = stats.summarize(frame, resamples=200, seed=seed)
    return int(table["verdict"].isin(["better", "worse"]).sum())


def compare_calls(draw: Draw, n: int, sims: int, factor: float, seed: int) -> int:
    """How many of `sims` run-against-run comparisons compare marks better or worse."""
    rng = np.random.default_rng(seed)
    pairs = _pairs(draw, n, sims, factor, rng)
    a = _frame([(w, "docker", x) for w, x, _ in pairs])
    b = _frame([(w, "docker", y) for w, _, y in pairs])
    table = stats.compare(a, b, resamples=200, seed=seed)
    return int(table["mark"].isin(["better", "worse"]).sum())


# --- the claims: each rule on a synthetic run ---------------------------------------------------


def _sample(workload: str, metric: str, platform: str, value: float, hib: bool) -> Sample:
    return Sample(
        f"t-{workload}-{platform}", 0, workload, "h", platform, False, metric, float(value),
        "u", hib, 0.0, 1.0, "i", "kvm",
    )  # fmt: skip


def _record(
    experiment: str, platform: str, metric: str, value: float, repeat: int, **detail: Any
) -> ExperimentRecord:
    return ExperimentRecord(experiment, platform, metric, float(value), "B", repeat, detail=detail)


def _run(samples: Sequence[Sample] = (), records: Sequence[ExperimentRecord] = ()) -> RunData:
    meta = {"run_id": "calibration", "fingerprint": {"accel": {"accel": "kvm"}}}
    return RunData(Path("calibration"), meta, (), tuple(samples), (), (), tuple(records))


def _repeated(
    experiment: str, platform: str, metric: str, values: np.ndarray, **detail: Any
) -> list[ExperimentRecord]:
    return [_record(experiment, platform, metric, v, i, **detail) for i, v in enumerate(values)]


Scenario = Callable[[Draw, int, float, np.random.Generator], RunData]


def _timed(
    subject: str,
    pairs: Sequence[tuple[str, str]],
    draw: Draw,
    n: int,
    factor: float,
    rng: np.random.Generator,
) -> list[Sample]:
    """Seconds (lower is better) of `subject` and the VM for each (workload, metric), the
    subject's `factor` times the VM's."""
    return [
        _sample(w, m, p, v / CENTRE * (factor if p == subject else 1.0), hib=False)
        for w, m in pairs
        for p in (subject, "libvirt")
        for v in draw(rng, n)
    ]


STARTUPS: Final = tuple((w, "startup_s") for w in speed.STARTUP_WORKLOADS)


def _startup(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
    return _run(samples=_timed("docker", STARTUPS, draw, n, factor, rng))


def _sandbox(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
    """gvisor against the VM: start-up `factor` times the VM's, system calls 1/`factor`."""
    starts = _timed("gvisor", STARTUPS, draw, n, factor, rng)
    calls = _timed("gvisor", (speed.SYSCALL,), draw, n, 1 / factor, rng)
    return _run(samples=starts + calls)


def _records_of(
    experiment: str, metrics: Sequence[str], scale: float
) -> Callable[[Draw, int, float, np.random.Generator], RunData]:
    def scenario(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
        records = []
        for metric in metrics:
            for platform, f in (("docker", factor), ("libvirt", 1.0)):
                records += _repeated(experiment, platform, metric, draw(rng, n) * scale * f)
        return _run(records=records)

    return scenario


def _density(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
    run = _records_of("density", (costs.STEP,), 2.0**20)(draw, n, factor, rng)
    counts = [
        _record("density", p, "instances", n, 0) for p in ("docker", "libvirt")
    ]  # the same cap: the count cannot decide
    return _run(records=(*run.experiments, *counts))


def _overhead(metrics: Sequence[tuple[str, str]], platforms: Sequence[str]) -> Scenario:
    def scenario(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
        samples = []
        for workload, metric in metrics:
            for platform in platforms:
                f = factor if platform == platforms[1] else 1.0
                samples += [_sample(workload, metric, platform, v * f, True) for v in draw(rng, n)]
        return _run(samples=samples)

    return scenario


def _isolation(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
    records = []
    for victim in ("cpu", "memory", "io"):
        for platform, f in (("docker", factor), ("libvirt", 1.0)):
            alone = draw(rng, n)
            with_neighbour = draw(rng, n) * 0.8 * f
            detail = {"victim": victim}
            records += _repeated("isolation", platform, "victim-alone", alone, **detail)
            records += _repeated(
                "isolation", platform, "victim-with-neighbour", with_neighbour, **detail
            )
    return _run(records=records)


def _orchestration(draw: Draw, n: int, factor: float, rng: np.random.Generator) -> RunData:
    """The swarm's recovery and scale-out (about a second) against the VM's."""
    return _records_of("orchestration", resilience.JUDGED, 1e-3)(draw, n, factor, rng)


# (rule, scenario, the factor that makes the claim true with a 10% effect)
CLAIM_SCENARIOS: Final[dict[str, tuple[Callable[[evidence.RunView], Finding], Scenario, float]]] = {
    "C3": (speed.startup, _startup, 1 - EFFECT),
    "C4": (
        costs.memory,
        _records_of("memory", ("idle-bytes", "loaded-bytes"), 2.0**20),
        1 - EFFECT,
    ),
    "C5": (
        costs.disk,
        _records_of("disk-per-instance", ("bytes-after-work",), 2.0**20),
        1 - EFFECT,
    ),
    "C6": (costs.density, _density, 1 - EFFECT),
    "C7": (speed.elasticity, _records_of("elasticity", speed.RESIZE_METRICS, 1e-4), 1 - EFFECT),
    "C8": (
        speed.overhead,
        _overhead(speed.C8_METRICS, ("native", "libvirt", "docker")),
        1 - EFFECT,
    ),
    "C9": (
        speed.paravirt,
        _overhead(speed.C9_METRICS, ("libvirt-emulated", "libvirt", "native")),
        1 + EFFECT,
    ),
    "C10": (speed.isolation, _isolation, 1 - EFFECT),
    "C13": (speed.sandbox, _sandbox, 1 - EFFECT),
    "C12": (resilience.orchestration, _orchestration, 1 - EFFECT),
}
CLAIMED: Final = ("supported", "partly supported")


def claim_calls(claim: str, draw: Draw, n: int, sims: int, factor: float, seed: int) -> int:
    """How many of `sims` synthetic runs the claim's rule finds supported or partly so."""
    rule, scenario, _ = CLAIM_SCENARIOS[claim]
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        outcome = rule(evidence.RunView(scenario(draw, n, factor, rng)))
        hits += outcome.verdict in CLAIMED
    return hits


# --- the whole table ----------------------------------------------------------------------------


def calibrate(
    *, sims_path: int = SIMS_PATH, sims_claim: int = SIMS_CLAIM, seed: int = SEED
) -> list[Rate]:
    """Every path's false-call rate (A/A) at each n, and its power at n=8 (a 10% effect)."""
    rates: list[Rate] = []
    paths: dict[str, Callable[[Draw, int, int, float, int], int]] = {
        "summary": summary_calls,
        "compare": compare_calls,
    }
    for index, (name, draw) in enumerate(DISTRIBUTIONS.items()):
        for n in NS:
            cell = seed + 1000 * index + n
            for path, calls in paths.items():
                rates.append(
                    Rate(path, name, n, "false", calls(draw, n, sims_path, 1.0, cell), sims_path)
                )
            for claim in CLAIM_SCENARIOS:
                hits = claim_calls(claim, draw, n, sims_claim, 1.0, cell)
                rates.append(Rate(claim, name, n, "false", hits, sims_claim))
        cell = seed + 1000 * index + 99
        for path, calls in paths.items():
            hits = calls(draw, POWER_N, sims_path, 1 - EFFECT, cell)
            rates.append(Rate(path, name, POWER_N, "power", hits, sims_path))
        for claim, (_, _, factor) in CLAIM_SCENARIOS.items():
            hits = claim_calls(claim, draw, POWER_N, sims_claim, factor, cell)
            rates.append(Rate(claim, name, POWER_N, "power", hits, sims_claim))
    return rates


def header(rates: Sequence[Rate]) -> dict[str, Any]:
    return {"seed": SEED, "effect": EFFECT, "false_limit": FALSE_LIMIT, "power_limit": POWER_LIMIT}


def stored() -> list[Rate]:
    """The figures stored with this version of the gate (empty if the file is missing)."""
    return calibration_store.load(STORED, Rate)


def _line(r: Rate) -> str:
    return f"{r.kind:<5} {r.path:<8} {r.distribution:<14} n={r.n}  {r.hits}/{r.sims}"


def main(argv: Sequence[str] | None = None) -> int:
    description = __doc__.splitlines()[0]
    return calibration_store.main(argv, description, STORED, calibrate, header, _line)


if __name__ == "__main__":
    raise SystemExit(main())
