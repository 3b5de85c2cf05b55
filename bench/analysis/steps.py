"""Steps in a history series: change points in the per-run medians (ruptures, binary
segmentation), each confirmed by the gate on the per-run medians either side.

A step is flagged only when `change_points` finds one (which already demands the minimum
effect) AND the runs before and after it differ by the gate (stats.compare), the run as the
unit: each run counts once, by its median, never its repeats pooled, which share their run's
boot, caches and neighbours and would make the noise between runs look like a step. So the
gate needs `min_repeats` runs on each side before it can call one; until then a change point
is drawn, not flagged.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis import gate, stats
from bench.data.run_history import SERIES_KEY

FloatArray = npt.NDArray[np.float64]

STEP_COLUMNS: Final = (
    "host",
    "workload",
    "metric",
    "platform",
    "accel",
    "workload_hash",
    "before_run_id",
    "run_id",  # the first run after the step
    "median_before",
    "median_after",
    "change_pct",  # positive = worse, whichever way the metric points
    "p_value",
    "mark",  # "worse" or "better"
)


def _series(samples: pd.DataFrame) -> Iterable[tuple[tuple[Any, ...], pd.DataFrame]]:
    if samples.empty:
        return []
    return samples.groupby(list(SERIES_KEY), sort=False)


def find_steps(samples: pd.DataFrame, *, alpha: float = gate.ALPHA) -> pd.DataFrame:
    """The steps in each series (one host, accel, workload definition, metric and platform)
    that change_points finds in the per-run medians and Mann-Whitney confirms on the pooled
    samples of the segments either side. Columns: STEP_COLUMNS."""
    rows: list[dict[str, Any]] = []
    for key, frame in _series(samples):
        runs = frame.groupby(["created", "run_id"], sort=True)["value"].median().reset_index()
        per_run = _run_medians(frame)
        if len(runs) < 4:  # change_points needs two runs either side of a step
            continue
        effects = frame["min_effect"].dropna()
        effect = float(effects.max()) if len(effects) else gate.MIN_EFFECT
        points = change_points(runs["value"].tolist(), min_effect=effect)
        bounds = [0, *points, len(runs)]
        for start, at, end in zip(bounds, bounds[1:], bounds[2:], strict=False):
            before_ids = set(runs["run_id"].iloc[start:at])
            after_ids = set(runs["run_id"].iloc[at:end])
            test = stats.compare(
                per_run.loc[per_run["run_id"].isin(before_ids)],
                per_run.loc[per_run["run_id"].isin(after_ids)],
                alpha=alpha,
                min_effect=effect,
            )
            if test.empty or test["mark"].iloc[0] not in ("worse", "better"):
                continue
            row = test.iloc[0]
            rows.append(
                {
                    **dict(zip(SERIES_KEY, key, strict=True)),
                    "before_run_id": str(runs["run_id"].iloc[at - 1]),
                    "run_id": str(runs["run_id"].iloc[at]),
                    "median_before": float(row["median_a"]),
                    "median_after": float(row["median_b"]),
                    "change_pct": float(row["change_pct"]),
                    "p_value": float(row["p_value"]),
                    "mark": str(row["mark"]),
                }
            )
    return pd.DataFrame(rows, columns=list(STEP_COLUMNS))


def _run_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its median, in the samples' own columns (the gate's input)."""
    keys = [c for c in frame.columns if c not in ("value", "round", "warmup")]
    medians = frame.groupby(keys, sort=True, dropna=False)["value"].median().reset_index()
    medians["warmup"] = False
    return medians


def change_points(
    values: Sequence[float], *, min_effect: float = gate.MIN_EFFECT, min_size: int = 2
) -> list[int]:
    """Indices where a history series steps (the index of the first value after the step).

    The asv step_detect idea, solved by ruptures: binary segmentation under an L1 cost (sum of
    absolute deviations from each segment's median: robust to single bad runs), stopped by a
    BIC-like penalty scaled by a noise estimate taken from successive differences (which a
    step hardly disturbs). Then steps whose median change is below `min_effect` are dropped,
    smallest first, re-measuring the merged segments each time. Segments are at least
    `min_size` long, so one odd run is not a step.
    """
    import ruptures  # here, not at the top: only the history index needs it (0.1 s to load)

    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if not np.isfinite(y).all():
        raise ValueError("values must be finite")
    if y.size < 2 * min_size:
        return []
    search = ruptures.Binseg(model="l1", min_size=min_size, jump=1).fit(y)
    found = search.predict(pen=_penalty(y))[:-1]  # the last "breakpoint" is the series' end
    return _prune(y, sorted(found), min_effect)


def _penalty(y: FloatArray) -> float:
    """What a step must save: BIC for a Laplace likelihood counts the L1 cost in units of the
    noise scale and charges ln(n) per parameter, two per step (place, level); the extra factor
    1.5 was tuned on synthetic series: about 1% false steps in 20 points of pure noise, while
    a 3-sigma step in the middle is still found more than 90% of the time."""
    diffs = np.diff(y)
    # MAD of successive differences / sqrt(2): sigma of the noise, blind to a few steps.
    sigma = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / math.sqrt(2)
    scale = sigma * math.sqrt(2 / math.pi)  # mean absolute deviation of normal noise
    # A noiseless series still needs a penalty above rounding error.
    floor = 1e-9 * float(np.abs(y).max(initial=0.0)) * y.size
    return max(1.5 * 2.0 * scale * math.log(y.size), floor)


def _prune(y: FloatArray, found: list[int], min_effect: float) -> list[int]:
    points = list(found)
    while points:
        bounds = [0, *points, y.size]
        medians = [float(np.median(y[s:e])) for s, e in itertools.pairwise(bounds)]
        effects = [_relative(before, after) for before, after in itertools.pairwise(medians)]
        weakest = int(np.argmin(effects))
        if effects[weakest] >= min_effect:
            break
        del points[weakest]
    return points


def _relative(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else math.inf
    return abs(after - before) / abs(before)
