"""What the claim rules read: the run indexed once, the statistics of its samples and
records (bench.analysis.stats does the work), and how figures are compared and stated."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from bench.analysis import gate, stats
from bench.analysis.claims.model import ClaimFigure, Finding, Verdict
from bench.data.outcomes import current_records, outcomes
from bench.data.results import ExperimentRecord, RunData, Sample
from bench.data.run_meta import counted_samples

CONTAINER: Final = "docker"
SANDBOX: Final = "gvisor"
VM: Final = "libvirt"
NATIVE: Final = "native"
EMULATED_VM: Final = "libvirt-emulated"
# the trial workload C4 reads when the memory experiment did not run
IDLE_FOOTPRINT: Final = "idle-footprint"
TCG_SPEED: Final = (
    "accel=tcg: the VM figures are emulation, not virtualisation; they do not say what a VM"
    " costs under KVM"
)


# --- the run, as the rules read it --------------------------------------------------------------


class RunView:
    """The run's samples and records, indexed once; the acceleration the VMs ran under."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.accel = run.run_meta.accel  # the accel the run used, parsed once
        self.tcg = run.run_meta.tcg
        self._by_experiment: dict[str, list[ExperimentRecord]] = {}
        for record in current_records(run):  # a resumed experiment's last attempt only
            self._by_experiment.setdefault(record.experiment, []).append(record)
        self._outcomes = outcomes(run)
        self.samples = counted_samples(run)

    def records(self, experiment: str, metric: str | None = None) -> list[ExperimentRecord]:
        found = self._by_experiment.get(experiment, [])
        return found if metric is None else [r for r in found if r.metric == metric]

    def failure(self, experiment: str) -> str | None:
        """Why the experiment's last attempt did not end well (failed, interrupted), if so."""
        outcome = self._outcomes.get(experiment)
        if outcome is None or outcome.status == "ok":
            return None
        lines = (outcome.cause or outcome.status).strip().splitlines()
        return lines[0].rstrip(":") if lines else "the experiment failed"

    def has_workload(self, workload: str) -> bool:
        return any(s.workload == workload for s in self.samples)

    def workload_frame(self, pairs: Iterable[tuple[str, str]]) -> pd.DataFrame:
        wanted = set(pairs)
        rows = [vars(s) for s in self.samples if (s.workload, s.metric) in wanted]
        return pd.DataFrame(rows, columns=list(Sample.__dataclass_fields__))


# --- statistics over records (bench.analysis.stats does the work) -----------------------------


@dataclass(frozen=True)
class Stat:
    """A summarize() row, the parts the rules read."""

    workload: str
    platform: str
    metric: str
    median: float
    low: float
    high: float
    unit: str
    n: int
    ratio: float = math.nan
    ratio_low: float = math.nan
    ratio_high: float = math.nan
    verdict: str = ""  # the gate's call against the reference (bench.analysis.gate)
    higher_is_better: bool = True
    reason: str = ""  # the gate's reason

    def figure(self, note: str = "", metric: str = "") -> ClaimFigure:
        return ClaimFigure(
            self.platform,
            metric or self.metric,
            finite(self.median),
            finite(self.low),
            finite(self.high),
            self.unit,
            self.n,
            note=note,
        )


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def summarize_rows(
    rows: Sequence[Mapping[str, Any]], baseline: str = NATIVE, **kwargs: Any
) -> list[Stat]:
    """summarize() over rows with workload, metric, platform, value, unit, higher_is_better."""
    if not rows:
        return []
    frame = pd.DataFrame([{"warmup": False, **r} for r in rows])
    table = stats.summarize(frame, baseline=baseline, **kwargs)
    return [
        Stat(
            workload=str(r["workload"]),
            platform=str(r["platform"]),
            metric=str(r["metric"]),
            median=float(r["median"]),
            low=float(r["ci_low"]),
            high=float(r["ci_high"]),
            unit=str(r["unit"]),
            n=int(r["n"]),
            ratio=float(r["ratio"]),
            ratio_low=float(r["ratio_low"]),
            ratio_high=float(r["ratio_high"]),
            verdict=str(r["verdict"]),
            higher_is_better=bool(r["higher_is_better"]),
            reason=str(r["reason"]),
        )
        for r in table.to_dict("records")
    ]


def record_rows(records: Iterable[ExperimentRecord]) -> list[dict[str, Any]]:
    """Records' numeric values as summarize() rows (lower is better: bytes and seconds)."""
    return [
        {
            "workload": r.experiment,
            "metric": r.metric,
            "platform": r.platform,
            "value": r.value,
            "unit": r.unit,
            "higher_is_better": False,
        }
        for r in records
        if r.value is not None
    ]


def record_stats(records: Iterable[ExperimentRecord]) -> dict[tuple[str, str], Stat]:
    """Median and interval per (platform, metric) of records' numeric values."""
    return {(s.platform, s.metric): s for s in summarize_rows(record_rows(records))}


Pair = tuple[str, str]


def versus(
    rows: Sequence[Mapping[str, Any]], subject: str, reference: str
) -> tuple[dict[Pair, Stat], dict[Pair, Stat]]:
    """The subject platform's figures judged against the reference platform's by the gate,
    as one family (Holm): a claim rests on all of them together. Keyed by (workload,
    metric): the subject's Stats that have a reference, and the reference's."""
    wanted = [r for r in rows if r["platform"] in (subject, reference)]
    found = summarize_rows(wanted, baseline=reference, family="platform")
    theirs = {(s.workload, s.metric): s for s in found if s.platform == reference}
    mine = {
        (s.workload, s.metric): s
        for s in found
        if s.platform == subject and (s.workload, s.metric) in theirs
    }
    return mine, theirs


Need = Literal["all", "majority", "any"]


@dataclass(frozen=True)
class Tally:
    """How a family of gate verdicts bears on a claim that expects one direction."""

    hits: int  # in the claim's direction: better or worse as the claim says
    against: int  # significantly the other way
    equal: int  # "no difference": a difference that matters ruled out
    undecided: int  # inconclusive: too few, too noisy or bad numbers
    total: int

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.hits + other.hits,
            self.against + other.against,
            self.equal + other.equal,
            self.undecided + other.undecided,
            self.total + other.total,
        )

    def text(self) -> str:
        parts = [f"{self.hits} of {self.total} as claimed"]
        parts += [
            f"{count} {word}"
            for count, word in (
                (self.against, "the other way"),
                (self.equal, "no difference"),
                (self.undecided, "undecided"),
            )
            if count
        ]
        return ", ".join(parts)


def tally(found: Iterable[Stat], expected: Literal["better", "worse"]) -> Tally:
    verdicts = [s.verdict for s in found]
    other = "worse" if expected == "better" else "better"
    return Tally(
        hits=verdicts.count(expected),
        against=verdicts.count(other),
        equal=verdicts.count("no difference"),
        undecided=sum(v not in (expected, other, "no difference") for v in verdicts),
        total=len(verdicts),
    )


def claim_verdict(t: Tally, need: Need) -> Verdict:
    """A claim's verdict from its family's gate verdicts, the one rule for every claim.

    supported: as many hits as the claim needs (all, a majority, or any and none against);
    inconclusive: not that many, but the undecided could still make up the difference;
    partly supported: some hits; not supported: none, with nothing left undecided.
    "supported" and "partly supported" both need a hit, and a hit is a Holm-controlled
    "better"/"worse": an A/A run reaches either at most alpha of the time."""
    wanted = {"all": t.total, "majority": t.total // 2 + 1, "any": 1}[need]
    if t.total and t.hits >= wanted and not (need == "any" and t.against):
        return "supported"
    if t.undecided and t.hits + t.undecided >= wanted:
        return "inconclusive"
    if t.hits:
        return "partly supported"
    return "not supported"


def few_caveats(*found: Stat) -> list[str]:
    """A caveat for figures too few for the gate: it judges none of them."""
    few = sorted({f"{s.platform} {s.metric} n={s.n}" for s in found if s.n < gate.MIN_REPEATS})
    if not few:
        return []
    return [
        f"fewer than {gate.MIN_REPEATS} repeats ({', '.join(few)}): the gate gives these no"
        " verdict, so they can leave the claim only inconclusive"
    ]


def num(value: float, unit: str = "") -> str:
    """A figure as the reason states it: bytes in MiB or GiB, others to four digits."""
    if not math.isfinite(value):
        return "-"
    if unit == "B":
        if abs(value) >= 2**30:
            return f"{value / 2**30:.3g} GiB"
        return f"{value / 2**20:.4g} MiB"
    if unit == "s" and abs(value) < 1:
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g}" + (f" {unit}" if unit else "")


def n_span(found: Sequence[Stat]) -> str:
    """The repeats figures rest on: "n=5", or "n=3-8" where they differ."""
    ns = sorted({s.n for s in found})
    if not ns:
        return "n=0"
    return f"n={ns[0]}" if len(ns) == 1 else f"n={ns[0]}-{ns[-1]}"


def with_interval(s: Stat) -> str:
    text = num(s.median, s.unit)
    if s.n >= 2 and math.isfinite(s.low):
        text += f" [{num(s.low, s.unit)}, {num(s.high, s.unit)}]"
    return text + f" (n={s.n})"


def missing(what: str, figures: Iterable[ClaimFigure] = ()) -> Finding:
    """Not enough to judge: say what is missing, and show what there is."""
    return Finding("not measured in this run", what, tuple(figures))


GATE_RULE: Final = gate.rule_text()  # from the Policy: the printed rule is the rule applied


def judged_text(s: Stat, reference: Stat | None = None) -> str:
    """A figure, its interval and n, what it was judged against and the gate's call."""
    text = with_interval(s)
    if reference is not None:
        text += f" vs {with_interval(reference)}"
    return f"{text}: {s.verdict} ({s.reason})" if s.verdict else text


def sample_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Sample rows as summarize() input (an empty list when there are none)."""
    columns = ["workload", "metric", "platform", "value", "unit", "higher_is_better"]
    return [{c: r[c] for c in columns} for r in frame.to_dict("records")]
