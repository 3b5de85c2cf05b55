"""`vcbench prune DIR... --keep-raw-days N`: bound a results store (see bench/data/retention.py)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bench.cli.options import FiniteRange


@click.command("prune")
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--keep-raw-days",
    type=FiniteRange(min=0),
    required=True,
    help="Keep the raw outputs, consoles and time series of runs younger than this.",
)
@click.option("--dry-run", is_flag=True, help="Say what would go, remove nothing.")
def prune_command(roots: tuple[Path, ...], keep_raw_days: float, dry_run: bool) -> None:
    """Remove the raw outputs, console logs and time series of runs older than
    --keep-raw-days under each results directory ROOT (runs, or a folder per host of runs).
    Every run keeps what its figures, the history index and comparisons need."""
    from bench.data.retention import bulky_bytes, find_runs, prune, to_prune

    now = time.time()
    runs, problems = find_runs(roots)
    for problem in problems:
        click.echo(f"vcbench: warning: {problem}", err=True)
    freed = 0
    for run in to_prune(runs, keep_raw_days, now):
        size = bulky_bytes(run) if dry_run else prune(run, now, keep_raw_days).freed_bytes
        if size:
            click.echo(f"{'would prune' if dry_run else 'pruned'} {run.directory}: {_mib(size)}")
        freed += size
    verb = "would free" if dry_run else "freed"
    click.echo(f"{verb} {_mib(freed)} in {len(runs)} run(s) looked at", err=True)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"
