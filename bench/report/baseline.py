"""The regression check that ends `vcbench run`: the newest earlier run that measured the same
thing on the same host, compared with the new one by `compare_runs`, as a few terminal lines.

"The same thing": same host, same suite, the same workloads with the same definition hashes,
and no difference `check_comparable` would refuse (accel, CPU, kernel, rootfs, limits). Only a
finished run is a baseline: an interrupted one lacks figures and would make changes up.
Picking the baseline (`pick_baseline`) and wording the verdict (`verdict_lines`) are pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.data.results import RUN_FILE, ResultsError, load_run, read_meta, stops_and_starts
from bench.data.run_meta import check_comparable, meta_value
from bench.report.comparison import ComparisonResult, compare_runs, num

# A one-screen summary: the moved figures beyond this many are counted, not listed.
MAX_LISTED: Final = 8


@dataclass(frozen=True)
class Candidate:
    """An earlier run as the baseline search sees it: its run.json and whether it finished."""

    directory: Path
    meta: Mapping[str, Any]
    finished: bool


@dataclass(frozen=True)
class Verdict:
    baseline: str | None  # the run id compared against; None when there was none
    lines: tuple[str, ...]
    regressed: bool


def identity(meta: Mapping[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What two runs must share to be judged against each other: host, suite, and each
    workload's name and definition hash."""
    workloads = meta_value(meta, ("plan", "workloads")) or []
    hashes = sorted(
        (str(w.get("name")), str(w.get("hash")))
        for w in (workloads if isinstance(workloads, list) else [])
        if isinstance(w, Mapping)
    )
    return (
        str(meta_value(meta, ("fingerprint", "hostname"))),
        str(meta_value(meta, ("plan", "suite"))),
        tuple(hashes),
    )


def _created(meta: Mapping[str, Any]) -> float:
    created = meta.get("created")
    return float(created) if isinstance(created, int | float) else 0.0


def pick_baseline(current: Mapping[str, Any], candidates: Sequence[Candidate]) -> Candidate | None:
    """The newest finished candidate created before `current` that it may be compared with."""
    mine = identity(current)
    before = _created(current)
    fitting = [
        c
        for c in candidates
        if c.finished
        and c.meta.get("run_id") != current.get("run_id")
        and _created(c.meta) < before
        and identity(c.meta) == mine
        and not check_comparable(c.meta, current)
    ]
    return max(fitting, key=lambda c: (_created(c.meta), str(c.meta.get("run_id"))), default=None)


def candidates(results_root: Path, exclude: Path) -> list[Candidate]:
    """Every other run under results_root whose run.json reads; unreadable ones are no baseline."""
    found = []
    for directory in sorted(results_root.iterdir()) if results_root.is_dir() else []:
        if directory.name.startswith(".") or not (directory / RUN_FILE).is_file():
            continue
        if directory.resolve() == exclude.resolve():
            continue
        try:
            finished = "finished" in stops_and_starts(directory)
            found.append(Candidate(directory, read_meta(directory), finished))
        except (ResultsError, OSError):
            continue
    return found


def _moved(result: ComparisonResult) -> list[str]:
    moved = result.frame.loc[result.frame["mark"].isin(["worse", "better"])]
    lines = [
        f"  {row['symbol']} {row['workload']} {row['metric']} {row['platform']}:"
        f" {num(row['median_a'])} -> {num(row['median_b'])} {row['unit']}"
        f" ({float(row['change_pct']):+.1f}%, p={num(row['p_value'], 2)})"
        for row in moved.sort_values("mark", ascending=False, kind="stable").to_dict("records")
    ]
    if len(lines) > MAX_LISTED:
        lines = [*lines[:MAX_LISTED], f"  ... and {len(lines) - MAX_LISTED} more"]
    return lines


def verdict_lines(result: ComparisonResult) -> tuple[str, ...]:
    """The comparison with the baseline in a few lines: counts, then each figure that moved."""
    counts = ", ".join(f"{n} {mark}" for mark, n in result.counts().items())
    head = f"regression check against {result.a.run_id} ({result.a.date}): {counts}"
    lines = [head, *_moved(result)]
    unarmed = result.unarmed()
    if unarmed:
        lines.append(unarmed)
    if result.regressed:
        lines.append(
            f"REGRESSION: a figure got significantly worse (exit 3);"
            f" `vcbench compare {result.a.run_id} {result.b.run_id}` shows every figure"
        )
    return tuple(lines)


NO_BASELINE: Final = (
    "regression check: no earlier finished run on this host with the same suite, workload"
    " definitions and environment; nothing to compare against"
)


def judge(run_dir: Path, results_root: Path) -> Verdict:
    """The run in run_dir against its baseline under results_root."""
    current = read_meta(run_dir)
    chosen = pick_baseline(current, candidates(results_root, exclude=run_dir))
    if chosen is None:
        return Verdict(None, (NO_BASELINE,), regressed=False)
    try:
        result = compare_runs(load_run(chosen.directory), load_run(run_dir))
    except ResultsError as exc:
        why = f"regression check skipped: {chosen.directory.name} unreadable ({exc.one_line()})"
        return Verdict(None, (why,), regressed=False)
    return Verdict(result.a.run_id, verdict_lines(result), result.regressed)


__all__ = [
    "NO_BASELINE",
    "Candidate",
    "Verdict",
    "candidates",
    "identity",
    "judge",
    "pick_baseline",
    "verdict_lines",
]
