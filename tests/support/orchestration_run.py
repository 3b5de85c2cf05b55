"""The orchestration experiment alone on the real daemons, in-process or as a child process
(for the Ctrl-C test): `python -m tests.support.orchestration_run DIR PLATFORMS SETTINGS`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.data.outcomes import Outcome
from bench.data.results import RunWriter
from bench.experiments import catalog
from bench.experiments.stage import run_experiments
from bench.images.build import current
from bench.platforms.labels import RunContext
from bench.platforms.protocol import Limits, PlatformConfig
from bench.run.runner import open_platforms


def measure(
    directory: Path,
    platforms: tuple[str, ...],
    settings: dict[str, Any],
    run: RunContext | None = None,
    also: tuple[str, ...] = (),
) -> tuple[RunContext, list[Outcome]]:
    """Run `also` (other experiments) and orchestration into a fresh run directory."""
    run = run or RunContext.create()
    writer = RunWriter.create(directory / run.run_id, {"run_id": run.run_id})
    limits = Limits.on_host(1, 512, str(max(os.sched_getaffinity(0))))
    config = PlatformConfig(run, current(), accel="auto")
    table: dict[str, dict[str, Any]] = {name: {} for name in also} | {"orchestration": settings}
    chosen = catalog.choose(table, None, "test")
    with open_platforms(platforms, config) as opened:
        found = run_experiments(chosen, opened, limits, config, writer, lambda *_: None)
    return run, found


def main(argv: list[str]) -> int:
    directory, platforms, settings = Path(argv[0]), tuple(argv[1].split(",")), json.loads(argv[2])
    run = RunContext.create()
    print(run.run_id, flush=True)  # the parent finds the run's names from it
    measure(directory, platforms, settings, run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
