"""What the claim rules read: the run indexed once, the statistics of its samples and
records (bench.stats does the work), and how figures are compared and stated."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from bench import stats
from bench.claims.model import ClaimFigure, Outcome
from bench.experiments.outcome import current_records, outcomes
from bench.results import ExperimentRecord, RunData, Sample

CONTAINER: Final = "docker"
VM: Final = "libvirt"
NATIVE: Final = "native"
EMULATED_VM: Final = "libvirt-emulated"
FEW: Final = 5  # below this many repeats an interval is rough (stats' few-repeats warning)
TCG_SPEED: Final = (
    "accel=tcg: the VM figures are emulation, not virtualisation; they do not say what a VM"
    " costs under KVM"
)


# --- the run, as the rules read it --------------------------------------------------------------


class RunView:
    """The run's samples and records, indexed once; the acceleration the VMs ran under."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.accel = vm_accel(run)
        self.tcg = self.accel == "tcg"
        self._by_experiment: dict[str, list[ExperimentRecord]] = {}
        for record in current_records(run):  # a resumed experiment's last attempt only
            self._by_experiment.setdefault(record.experiment, []).append(record)
        self._outcomes = outcomes(run)
        self.samples = [s for s in run.samples if s.origin == "workload" and not s.warmup]

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


def vm_accel(run: RunData) -> str:
    """run.json's accel, else what the VM trials or records say; "" when no VM ran."""
    fingerprint = run.meta.get("fingerprint", {})
    accel = fingerprint.get("accel", {}) if isinstance(fingerprint, Mapping) else {}
    found = accel.get("accel") if isinstance(accel, Mapping) else accel
    if found in ("tcg", "kvm"):
        return str(found)
    seen = {t.accel for t in run.trials if t.platform.startswith(VM)}
    seen |= {r.accel for r in run.experiments if r.platform.startswith(VM)}
    seen.discard("")
    return seen.pop() if len(seen) == 1 else ""


# --- statistics over records (bench.stats does the work) ---------------------------------------


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
    verdict: str = ""
    higher_is_better: bool = True

    def direction(self) -> Literal["better", "worse", "unclear"]:
        """Against the baseline: the rank test's verdict where it decided; else, as the other
        claims compare figures, by the ratio's interval lying wholly on one side of 1 (with
        3 repeats the test cannot reach p < 0.01, however far apart the figures are)."""
        if self.verdict in ("better", "worse"):
            return "better" if self.verdict == "better" else "worse"
        if self.n < 2 or not (math.isfinite(self.ratio_low) and math.isfinite(self.ratio_high)):
            return "unclear"
        if self.ratio_low > 1.0:
            return "better" if self.higher_is_better else "worse"
        if self.ratio_high < 1.0:
            return "worse" if self.higher_is_better else "better"
        return "unclear"

    def undecided(self) -> bool:
        """Unclear for want of data (too few or too noisy repeats), not found equal: "no
        difference" is a finding, since its interval rules out any difference that matters."""
        return self.direction() == "unclear" and self.verdict != "no difference"

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
        )
        for r in table.to_dict("records")
    ]


def record_stats(records: Iterable[ExperimentRecord]) -> dict[tuple[str, str], Stat]:
    """Median and interval per (platform, metric) of records' numeric values."""
    rows = [
        {
            "workload": r.experiment,
            "metric": r.metric,
            "platform": r.platform,
            "value": r.value,
            "unit": r.unit,
            "higher_is_better": False,
        }
        for r in records
        if r.value is not None and math.isfinite(r.value)
    ]
    return {(s.platform, s.metric): s for s in summarize_rows(rows)}


Order = Literal["below", "above", "overlap"]


def order(a: Stat, b: Stat) -> Order:
    """Where a lies against b: apart by their intervals; with a single repeat on either side,
    by the values themselves (the caller adds the caveat)."""
    if a.n >= 2 and b.n >= 2 and math.isfinite(a.high) and math.isfinite(b.low):
        if a.high < b.low:
            return "below"
        if a.low > b.high:
            return "above"
        return "overlap"
    if a.median < b.median:
        return "below"
    return "above" if a.median > b.median else "overlap"


def few_caveats(*found: Stat) -> list[str]:
    """Caveats for small samples: no interval at all, or a rough one."""
    out = []
    single = sorted({f"{s.platform} {s.metric}" for s in found if s.n < 2})
    if single:
        out.append(
            f"one repeat only, no interval ({', '.join(single)}): values compared as they are"
        )
    few = sorted({f"{s.platform} {s.metric} n={s.n}" for s in found if 2 <= s.n < FEW})
    if few:
        out.append(f"fewer than {FEW} repeats ({', '.join(few)}): the intervals are rough")
    return out


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


def with_interval(s: Stat) -> str:
    text = num(s.median, s.unit)
    if s.n >= 2 and math.isfinite(s.low):
        text += f" [{num(s.low, s.unit)}, {num(s.high, s.unit)}]"
    return text + f" (n={s.n})"


def missing(what: str, figures: Iterable[ClaimFigure] = ()) -> Outcome:
    """Not enough to judge: say what is missing, and show what there is."""
    return Outcome("not measured in this run", what, tuple(figures))


def sample_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Sample rows as summarize() input (an empty list when there are none)."""
    columns = ["workload", "metric", "platform", "value", "unit", "higher_is_better"]
    return [{c: r[c] for c in columns} for r in frame.to_dict("records")]
