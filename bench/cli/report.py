"""`vcbench report RUN [-o DIR] [--index]`: the HTML page of one run, and the history index."""

from __future__ import annotations

from pathlib import Path

import click

from bench.core.errors import BenchError


@click.command("report")
@click.argument("run", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write index.html into (default: reports/<run-id>/).",
)
@click.option(
    "--index",
    "with_index",
    is_flag=True,
    help="Also rebuild the cross-run index page; without RUN, only that.",
)
def report_command(run: str | None, output: Path | None, with_index: bool) -> None:
    """Write the self-contained HTML report of RUN (an id, a unique id prefix or a path)."""
    from bench.core.paths import reports_dir, results_dir

    if run is None and not with_index:
        raise BenchError("no run given", "name one (`vcbench runs` lists them), or pass --index")
    if run is not None:
        from bench.data.results import find_run
        from bench.report.render import write_report

        page = write_report(find_run(run, results_dir()), output)
        click.echo(str(page))
    if with_index:
        # Imported here: the index is another module's, and a report must not need it.
        from bench.report.history import write_index

        click.echo(str(write_index(results_dir(), reports_dir())))
