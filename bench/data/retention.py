"""`vcbench prune`: keep a results store bounded without losing its history.

A nightly store (the workflow's results branch, and the site published from it) grows by a
run per host per night. What a run's figures need, now and in every later history index or
comparison, is small: run.json, trials, samples, events and experiment records. What is bulky
is only linked or drawn from a run's own page: the raw tool outputs, the consoles and the
collectors' time series. After a number of days those go; a pruned run's page then shows its
figures without those links and charts (render links only files that exist), and the
`pruned.json` left behind says what went and when.

Which runs to prune is a pure function of their creation times (`to_prune`); finding and
removing are the thin layers around it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.data.results import RUN_FILE, TIMESERIES, ResultsError, read_meta, stops_and_starts

BULKY: Final = ("raw", "logs", TIMESERIES)  # only a run's own page uses these
PRUNED: Final = "pruned.json"
DAY_S: Final = 86400.0


@dataclass(frozen=True)
class StoredRun:
    directory: Path
    created: float  # epoch seconds, from run.json


@dataclass(frozen=True)
class Pruned:
    directory: Path
    freed_bytes: int


def to_prune(runs: Iterable[StoredRun], keep_days: float, now: float) -> list[StoredRun]:
    """The runs created more than keep_days before now, oldest first."""
    cutoff = now - keep_days * DAY_S
    return sorted((r for r in runs if r.created < cutoff), key=lambda r: r.created)


def find_runs(roots: Sequence[Path]) -> tuple[list[StoredRun], list[str]]:
    """Every run directory in roots, at depth one (a results dir) or two (a host per folder,
    as the nightly store keeps them). A run whose run.json cannot be read, or that has not
    ended (it may be measuring now), is named in the second list and left alone."""
    found: list[StoredRun] = []
    problems: list[str] = []
    for directory in _run_dirs(roots):
        try:
            created = read_meta(directory).get("created")
        except ResultsError as exc:
            problems.append(exc.one_line())
            continue
        if not isinstance(created, int | float) or isinstance(created, bool):
            problems.append(f"{directory}: run.json has no creation time; left alone")
        elif stops_and_starts(directory)[-1:] not in (["finished"], ["interrupted"]):
            problems.append(f"{directory}: has not finished or been interrupted; left alone")
        else:
            found.append(StoredRun(directory, float(created)))
    return found, problems


def _run_dirs(roots: Sequence[Path]) -> Iterable[Path]:
    for root in roots:
        if not root.is_dir():
            raise ResultsError(f"{root}: not a directory", "give a results directory")
        if (root / RUN_FILE).is_file():
            yield root
            continue
        for child in sorted(p for p in root.iterdir() if p.is_dir()):
            if (child / RUN_FILE).is_file():
                yield child
            else:
                yield from (g for g in sorted(child.iterdir()) if (g / RUN_FILE).is_file())


def prune(run: StoredRun, now: float, keep_days: float) -> Pruned:
    """Remove the run's bulky files; record what went in pruned.json (kept across prunes)."""
    removed = [name for name in BULKY if (run.directory / name).exists()]
    if not removed:
        return Pruned(run.directory, 0)
    freed = bulky_bytes(run)
    for name in removed:
        path = run.directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    record = {"at": now, "keep_days": keep_days, "removed": removed, "freed_bytes": freed}
    (run.directory / PRUNED).write_text(json.dumps(record, indent=1) + "\n")
    return Pruned(run.directory, freed)


def bulky_bytes(run: StoredRun) -> int:
    """What pruning the run would free."""
    return sum(_size(run.directory / n) for n in BULKY if (run.directory / n).exists())


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())
