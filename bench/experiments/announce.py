"""What the terminal shows while the claim experiments run: a line as each starts and ends
(on stderr), one JSON line per ended experiment on stdout for CI, or nothing."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from bench.data.outcomes import Outcome
from bench.experiments.stage import ExperimentProgress


def experiment_reporter(quiet: bool, as_json: bool) -> ExperimentProgress:
    def show(name: str, position: int, total: int, outcome: Outcome | None) -> None:
        if as_json:
            if outcome is not None:
                line = {"position": position, "total": total, "experiment": asdict(outcome)}
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()
            return
        if quiet:
            return
        if outcome is None:
            click.echo(f"experiment {position}/{total}: {name}", err=True)
        elif outcome.status == "ok":
            click.echo(f"experiment {name}: ok, {outcome.records} record(s)", err=True)
        else:
            click.echo(f"FAILED experiment {name}: {outcome.cause}", err=True)

    return show
