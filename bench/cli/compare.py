"""`vcbench compare` and `vcbench export`: resolve runs, call the pure functions, put the bytes
where asked. Expected failures are BenchErrors, which the CLI root prints as one line (exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench.core.paths import atomic_path, results_dir
from bench.data.results import RunData, find_run, load_run
from bench.report.export import FORMATS, serialize

# Exit 3, not 1: CI can tell "a figure regressed" from "the comparison itself failed" (2).
EXIT_REGRESSION = 3


def _load(ref: str) -> RunData:
    """A run by id, unique id prefix (under VCBENCH_RESULTS) or path.

    What the reader had to skip goes to stderr: the figures below are without it, and the
    output on stdout stays clean for a pipe.
    """
    run = load_run(find_run(ref, results_dir()))
    for warning in run.warnings:
        click.echo(f"warning: {run.run_id}: {warning}", err=True)
    return run


def _write(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:  # a reader never sees half a page
        tmp.write_bytes(data)


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the comparison as a self-contained HTML page.",
)
@click.option(
    "--force", is_flag=True, help="Compare even runs of another accel, CPU, kernel or rootfs."
)
def compare_command(run_a: str, run_b: str, html_out: Path | None, force: bool) -> None:
    """Compare RUN_B against RUN_A (ids, id prefixes or paths): within-run evidence, figure by
    figure.

    Two single runs cannot tell a change from the noise between runs, so the exit code follows
    the run-level rule of `vcbench run`'s regression check: 3 when RUN_B's own check confirmed
    a figure worse on fresh runs, 0 otherwise.
    """
    from bench.data.check_record import read_check
    from bench.report.comparison import compare_runs, comparison_html, comparison_text

    b = _load(run_b)
    result = compare_runs(_load(run_a), b, force=force)
    click.echo(comparison_text(result), nl=False)
    if html_out is not None:
        _write(html_out, comparison_html(result).encode())
        click.echo(f"wrote {html_out}", err=True)
    record = read_check(b.directory)
    if record is not None and record.regressed:
        worse = ", ".join(
            f"{c.workload} {c.metric} {c.platform}" for c in record.confirmations if c.worse
        )
        click.echo(f"run level: {b.run_id}'s own regression check confirmed worse: {worse}")
        sys.exit(EXIT_REGRESSION)


@click.command("export")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="csv/ndjson: every sample; markdown: a summary for a job summary or PR comment;"
    " claims: the twelve claims' verdicts as JSON.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
def export_command(run: str, fmt: str, output: Path | None) -> None:
    """Export RUN (id, id prefix or path) as CSV, NDJSON, Markdown or the claims' JSON."""
    data = serialize(_load(run), fmt)
    if output is None:
        click.echo(data, nl=False)
    else:
        _write(output, data)
        click.echo(f"wrote {output}", err=True)
