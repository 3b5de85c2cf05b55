"""The classic table, re-run: each figure of Felter et al. 2015 (IBM RC25482) and Percona's
2016 MySQL rows, the published ratio beside ours, and whether our ordering agrees.

A row states what the paper found as an ordering against native: the subject platform is
"worse" than native, or "no worse" (not worse by the gate's minimum effect). Our side is the
gate's answer to that question (gate.decide_orderings): "worse" by the U test and the minimum
effect, "better" likewise (which answers "no worse" too), "no worse" when a one-sided U test
rules out worse by the minimum effect, else inconclusive. Both tests of every row are one Holm
family, since "the classic findings hold here" rests on all its rows at once. The call reads:
  expected worse:    worse -> agrees; no worse or better -> disagrees
  expected no worse: no worse or better -> agrees; worse -> disagrees
  anything inconclusive (too few repeats, noisy, a test that cannot fire) -> inconclusive.
Calibrated like the claims (bench.analysis.classic_calibration): under A/A no row is called
worse, and with every subject worse by exactly the minimum effect no row is called no worse,
in more than 1% of runs. Pure: samples in, rows out (bench.analysis.classic_run reads a run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

from bench.analysis import gate, stats
from bench.analysis.claims.evidence import TCG_SPEED

NATIVE: Final = "native"
SUBJECT: Final = "classic"  # every row's subject, renamed: one Holm family for the table
Expect = Literal["worse", "no worse"]
Agreement = Literal["agrees", "disagrees", "inconclusive", "not measured"]
FELTER: Final = "Felter et al. 2015"
PERCONA: Final = "Percona 2016"


@dataclass(frozen=True)
class ClassicRow:
    key: str
    source: str
    figure: str
    workload: str
    metric: str
    subject: str  # a platform name of this project: docker, docker-nat, docker-hostnet, libvirt
    expect: Expect
    published: str  # what the paper gives, as printed there
    published_ratio: float | None = None  # subject / native where the paper gives numbers

    @property
    def ordering(self) -> str:
        how = "worse than" if self.expect == "worse" else "no worse than"
        return f"{self.subject} {how} native"


ROWS: Final[tuple[ClassicRow, ...]] = (
    ClassicRow(
        "hpl-docker", FELTER, "Linpack (HPL) GFLOPS", "app-hpcc", "hpl_gflops", "docker",
        "no worse", "Docker about equal to native (290.8 GFLOPS native)", 1.0,
    ),
    ClassicRow(
        "hpl-kvm", FELTER, "Linpack (HPL) GFLOPS", "app-hpcc", "hpl_gflops", "libvirt",
        "worse", "KVM untuned -17%; tuned 284.2 of 290.8 (-2%)", 0.83,
    ),
    ClassicRow(
        "stream-docker", FELTER, "STREAM triad", "app-hpcc", "stream_triad_gb_s", "docker",
        "no worse", "overhead negligible (-1..-3% at most)", 0.99,
    ),
    ClassicRow(
        "stream-kvm", FELTER, "STREAM triad", "app-hpcc", "stream_triad_gb_s", "libvirt",
        "no worse", "overhead negligible (-1..-3%)", 0.98,
    ),
    ClassicRow(
        "gups-docker", FELTER, "RandomAccess GUPS", "app-hpcc", "randomaccess_gups", "docker",
        "no worse", "overhead negligible", 1.0,
    ),
    ClassicRow(
        "gups-kvm", FELTER, "RandomAccess GUPS", "app-hpcc", "randomaccess_gups", "libvirt",
        "no worse", "overhead negligible", 1.0,
    ),
    ClassicRow(
        "redis-p99-nat", FELTER, "Redis GET p99 latency, 50 clients", "app-redis-c50",
        "get_latency_p99_ms", "docker-nat", "worse",
        "above ~20 clients: Docker NAT > KVM > host network ~ native (an ordering, no ratio)",
    ),
    ClassicRow(
        "redis-p99-hostnet", FELTER, "Redis GET p99 latency, 50 clients", "app-redis-c50",
        "get_latency_p99_ms", "docker-hostnet", "no worse",
        "Docker on the host network ~ native",
    ),
    ClassicRow(
        "redis-p99-kvm", FELTER, "Redis GET p99 latency, 50 clients", "app-redis-c50",
        "get_latency_p99_ms", "libvirt", "worse", "KVM between Docker NAT and native",
    ),
    ClassicRow(
        "redis-rps-nat", FELTER, "Redis GET requests/s, 50 clients", "app-redis-c50",
        "get_rps", "docker-nat", "worse",
        "NAT costs throughput; native ~1.0-1.3e5 req/s at 60-100 clients",
    ),
    ClassicRow(
        "redis-rps-hostnet", FELTER, "Redis GET requests/s, 50 clients", "app-redis-c50",
        "get_rps", "docker-hostnet", "no worse", "host network ~ native",
    ),
    ClassicRow(
        "mysql-kvm", FELTER, "MySQL sysbench OLTP tps", "app-mariadb-oltp", "tps", "libvirt",
        "worse", "KVM overhead above 40% in every case measured", 0.6,
    ),
    ClassicRow(
        "mysql-p", PERCONA, "MySQL sysbench OLTP tps", "app-mariadb-oltp", "tps", "docker-nat",
        "worse", "Docker with -p: 2200 tps against 7100 native", 2200 / 7100,
    ),
    # Felter's Docker MySQL (host network, a volume) and Percona's --net=host: one comparison
    ClassicRow(
        "mysql-hostnet", f"{FELTER}; {PERCONA}", "MySQL sysbench OLTP tps", "app-mariadb-oltp",
        "tps", "docker-hostnet", "no worse",
        "Felter: Docker within ~2% of native; Percona: --net=host 7100 tps, as native", 1.0,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class ClassicResult:
    row: ClassicRow
    agreement: Agreement
    call: str = ""  # the gate's call on the subject against native
    reason: str = ""
    ratio: float = math.nan
    ratio_low: float = math.nan
    ratio_high: float = math.nan
    n: int = 0
    n_ref: int = 0
    note: str = ""  # TCG: the VM row measures emulation


def agreement(expect: Expect, call: str) -> Agreement:
    if call == "inconclusive" or not call:
        return "inconclusive"
    if expect == "worse":
        return "agrees" if call == "worse" else "disagrees"
    return "disagrees" if call == "worse" else "agrees"


def frame_for(
    samples: pd.DataFrame, rows: Sequence[ClassicRow] = ROWS
) -> tuple[pd.DataFrame, list[ClassicRow]]:
    """The rows' samples renamed so that summarize judges them as one family: each row's
    subject becomes SUBJECT and its workload the row's key, native's samples copied beside."""
    parts = []
    measured = []
    for row in rows:
        mine = samples[
            (samples["workload"] == row.workload)
            & (samples["metric"] == row.metric)
            & (samples["platform"].isin([row.subject, NATIVE]))
        ]
        if not {row.subject, NATIVE} <= set(mine["platform"]):
            continue
        renamed = mine.assign(
            workload=row.key,
            platform=mine["platform"].where(mine["platform"] == NATIVE, SUBJECT),
        )
        parts.append(renamed)
        measured.append(row)
    if not parts:
        return samples.iloc[0:0], []
    return pd.concat(parts, ignore_index=True), measured


def judge(
    samples: pd.DataFrame,
    *,
    tcg: bool = False,
    effects: dict[tuple[str, str], float] | None = None,
    rows: Sequence[ClassicRow] = ROWS,
    resamples: int = 2000,
    seed: int = 0,
) -> list[ClassicResult]:
    """Every row's result; samples has summarize()'s columns (workload, metric, platform,
    value, unit, higher_is_better, warmup...). `effects`: (workload, metric) -> min effect."""
    frame, measured = frame_for(samples, rows)
    pairs = {
        p.group.workload: p
        for p in stats.pairs_against(frame, baseline=NATIVE, resamples=resamples, seed=seed)
    }
    judged = [row for row in measured if row.key in pairs]
    margins = [(effects or {}).get((r.workload, r.metric), gate.MIN_EFFECT) for r in judged]
    evidences = [pairs[r.key].evidence for r in judged]
    no_worse_p = [
        gate.mwu_no_worse(p.group.values, p.reference.values, p.group.higher_is_better, margin)
        for p, margin in zip((pairs[r.key] for r in judged), margins, strict=True)
    ]
    decisions = gate.decide_orderings(evidences, no_worse_p, min_effects=margins)
    found = dict(zip((r.key for r in judged), zip(evidences, decisions, strict=True), strict=True))
    results = []
    for row in rows:
        note = TCG_SPEED if tcg and row.subject.startswith("libvirt") else ""
        if row.key not in found:
            results.append(ClassicResult(row, "not measured", note=note))
            continue
        ev, decision = found[row.key]
        results.append(
            ClassicResult(
                row,
                agreement(row.expect, decision.call),
                call=decision.call,
                reason=decision.reason.replace(SUBJECT, row.subject),
                ratio=ev.ratio,
                ratio_low=ev.ratio_low,
                ratio_high=ev.ratio_high,
                n=ev.n,
                n_ref=ev.n_ref,
                note=note,
            )
        )
    return results
