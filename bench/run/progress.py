"""What the terminal shows while a run goes: rich progress, JSON lines for CI, or nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from bench.data.results import Trial, TrialKey


def _label(key: TrialKey, rounds: int) -> str:
    warm = f" warm-up {key.warmup_index + 1}" if key.warmup_index is not None else ""
    return f"round {key.round + 1}/{rounds}  {key.workload} on {key.platform}{warm}"


@contextmanager
def reporter(plan: Any, quiet: bool, as_json: bool) -> Iterator[Any]:
    """A callback (key, position, total, finished trial or None when it starts)."""
    rounds = max((w.repeats for w in plan.workloads), default=0)
    if as_json:

        def emit(key: TrialKey, position: int, total: int, trial: Trial | None) -> None:
            if trial is not None:
                line = {"position": position, "total": total, **asdict(trial)}
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()

        yield emit
        return
    if quiet:
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=len(plan.keys()))

        def show(key: TrialKey, position: int, total: int, trial: Trial | None) -> None:
            if trial is None:
                progress.update(task, description=_label(key, rounds), completed=position - 1)
                return
            progress.update(task, completed=position)
            if trial.status == "failed":
                progress.console.print(
                    f"[red]FAILED[/] {trial.trial_id}: {trial.cause}: {trial.error}"
                )

        yield show
