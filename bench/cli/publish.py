"""`vcbench publish OUT [--from DIR ...]`: the static site of every run of one or more hosts."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("publish")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A results directory (repeatable: one per host or night); default: the results root.",
)
def publish_command(out: Path, sources: tuple[Path, ...]) -> None:
    """Write a static site to OUT: the history index of every host, and every run's page at
    OUT/<host>/<run-id>/. OUT is replaced whole; it must be new, empty or an earlier site."""
    from bench.core.paths import results_dir
    from bench.report.site import publish

    done = publish(out, sources or (results_dir(),))
    for s in done.skipped:
        click.echo(f"vcbench: warning: skipped {s.name}: {s.reason}", err=True)
    click.echo(f"published {done.runs} run(s) of {done.hosts} host(s)", err=True)
    click.echo(str(done.index))
