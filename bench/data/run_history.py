"""The history of a results directory: every run that reads, and the samples of its headline
figures tagged with their run, host and accel, the input of the index and its steps.

A series never mixes hosts, accelerations or workload definitions (SERIES_KEY): a step
between two hosts, or between TCG and KVM, is a different measurement, not a regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from bench.data.results import RUN_FILE, ResultsError, RunData, load_run
from bench.data.run_meta import measured_frame, run_info


@dataclass(frozen=True)
class Headline:
    """A figure that sums up a run: shown per run in the index and charted across runs."""

    workload: str
    metric: str
    title: str


# Data, not code: add a line here to chart another figure. A run shows whichever it has.
HEADLINES: Final = (
    Headline("cpu-sysbench", "events_per_s", "CPU throughput (sysbench)"),
    Headline("net-sockperf", "latency_p50_us", "TCP latency p50 (sockperf)"),
    Headline("startup-warm", "startup_s", "warm start-up"),
)
# What names one figure of one run: shared by the history table and the pooled samples.
_IDENTITY: Final = (
    "run_id",
    "created",
    "host",
    "accel",
    "workload",
    "metric",
    "platform",
    "unit",
    "higher_is_better",
    "workload_hash",
)
HISTORY_COLUMNS: Final = (*_IDENTITY, "median", "n")
SERIES_KEY: Final = ("host", "workload", "metric", "platform", "accel", "workload_hash")
SAMPLE_COLUMNS: Final = (*_IDENTITY, "min_effect", "warmup", "value")


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def run_order(run: RunData) -> tuple[float, str]:
    return (run_info(run).created, run.run_id)


def headline_samples(runs: Sequence[RunData]) -> pd.DataFrame:
    """The measured samples of the headline figures, one row per value, tagged with their run."""
    wanted = {(h.workload, h.metric) for h in HEADLINES}
    parts = []
    for run in sorted(runs, key=run_order):
        frame = measured_frame(run)
        if frame.empty:
            continue
        keys = list(zip(frame["workload"], frame["metric"], strict=True))
        frame = frame.loc[[k in wanted for k in keys]].copy()
        if frame.empty:
            continue
        info = run_info(run)
        effects = run.run_meta.min_effects
        frame["run_id"] = info.run_id
        frame["created"] = info.created
        frame["host"] = info.host
        # The run's accel, not the sample's: native samples say "host" even in a KVM run, yet
        # their series still must not continue across a change of the VM acceleration.
        frame["accel"] = info.accel
        frame["min_effect"] = [
            effects.get((str(w), str(m)), float("nan"))  # unset: the analysis's default
            for w, m in zip(frame["workload"], frame["metric"], strict=True)
        ]
        parts.append(frame[list(SAMPLE_COLUMNS)])
    if not parts:
        return pd.DataFrame(columns=list(SAMPLE_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def history_frame(runs: Sequence[RunData]) -> pd.DataFrame:
    """One row per run x headline metric x platform: the run's median and sample count,
    ordered by run date, then as HEADLINES lists the metrics."""
    samples = headline_samples(runs)
    if samples.empty:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    keys = [c for c in HISTORY_COLUMNS if c not in ("median", "n")]
    grouped = samples.groupby(keys, sort=False)["value"]
    frame = grouped.agg(median="median", n="count").reset_index()
    rank = {(h.workload, h.metric): i for i, h in enumerate(HEADLINES)}
    frame["_rank"] = [rank[(w, m)] for w, m in zip(frame["workload"], frame["metric"], strict=True)]
    frame = frame.sort_values(["created", "run_id", "_rank"], kind="stable")
    return frame[list(HISTORY_COLUMNS)].reset_index(drop=True)


def scan(results_root: Path) -> tuple[list[RunData], list[Skipped]]:
    """Every run under results_root; a directory whose run.json cannot be read (corrupt, or a
    schema this version does not know) is skipped with the reason, never fatal."""
    runs: list[RunData] = []
    skipped: list[Skipped] = []
    if not results_root.is_dir():
        return runs, skipped
    for directory in sorted(results_root.iterdir()):
        if directory.name.startswith(".") or not (directory / RUN_FILE).is_file():
            continue  # not a run: a scratch or hidden directory
        try:
            runs.append(load_run(directory))
        except ResultsError as exc:
            skipped.append(Skipped(directory.name, exc.one_line()))
        except OSError as exc:
            skipped.append(Skipped(directory.name, f"unreadable: {exc.strerror or exc}"))
    return runs, skipped
