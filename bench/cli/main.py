"""The command line: parse, call one function, print. Expected failures are one line, exit 2."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass

import click

from bench import __version__
from bench.core.errors import BenchError
from bench.platforms.lifecycle import Terminated

EXIT_BAD = 2
EXIT_SIGINT = 130  # 128 + the signal's number, as shells report it
EXIT_SIGTERM = 143


@dataclass
class _Options:
    debug: bool = False


_OPTIONS = _Options()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcbench")
@click.option("--debug", is_flag=True, help="Show tracebacks for expected failures too.")
def cli(debug: bool) -> None:
    """Measure what a Docker container or a KVM/libvirt VM costs against native, on this host."""
    _OPTIONS.debug = debug


@cli.group()
def host() -> None:
    """Host prerequisites and daemons."""


@host.command("setup")
@click.option("--test-tools", is_flag=True, help="Also what the test suite needs (a browser).")
def host_setup(test_tools: bool) -> None:
    """Install missing host packages, fix /dev/kvm, start dockerd/libvirtd. Idempotent."""
    from bench.cli.execute import reap_leftovers
    from bench.host import daemons
    from bench.host.setup import run_setup

    down = [d.name for d in daemons.DAEMONS if not daemons.answers(d)]
    run_setup(click.echo, test_tools=test_tools)
    if down:  # a daemon (re)started: what dead runs left in it comes back now; reap it
        reap_leftovers(click.echo)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-probe", is_flag=True, help="Do not boot the KVM probe guest if not cached.")
def doctor(as_json: bool, no_probe: bool) -> None:
    """Check the host: exit 0 when native, docker and libvirt are all usable, else 2."""
    from bench.host import doctor as doc

    checks = doc.run_checks(probe_accel=not no_probe)
    usable = doc.usable_platforms(checks)
    if as_json:
        click.echo(json.dumps(doc.as_json(checks), indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            fix = f"  -> fix: {c.fix}" if c.fix and c.status != "ok" else ""
            click.echo(f"{c.status.upper():<5} {c.name:<{width}}  {c.detail}{fix}")
        click.echo(
            "platforms: "
            + ", ".join(f"{p} {'usable' if ok else 'UNUSABLE'}" for p, ok in usable.items())
        )
    if not all(usable.values()):
        sys.exit(EXIT_BAD)


def _register() -> None:
    from bench.cli.compare import compare_command, export_command
    from bench.cli.execute import exec_command, gc_command
    from bench.cli.images import images
    from bench.cli.prune import prune_command
    from bench.cli.publish import publish_command
    from bench.cli.report import report_command
    from bench.cli.run import run_command, workloads_command

    commands = (images, exec_command, gc_command, run_command, workloads_command,
                report_command, compare_command, export_command, publish_command,
                prune_command)  # fmt: skip
    for command in commands:
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="vcbench", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # One line like every other bad input, not click's usage block.
        where = exc.ctx.command_path if exc.ctx else "vcbench"
        click.echo(f"vcbench: error: {exc.format_message()}; see `{where} --help`", err=True)
        sys.exit(EXIT_BAD)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns KeyboardInterrupt, and so our Terminated, into Abort: its cause tells.
        cause = exc.__cause__ if isinstance(exc, click.exceptions.Abort) else exc
        terminated = isinstance(cause, Terminated)
        click.echo(f"vcbench: {'terminated' if terminated else 'interrupted'}", err=True)
        sys.exit(EXIT_SIGTERM if terminated else EXIT_SIGINT)
    except BenchError as exc:
        if _OPTIONS.debug:
            traceback.print_exc()
        click.echo(f"vcbench: error: {exc.one_line()}", err=True)
        sys.exit(EXIT_BAD)


if __name__ == "__main__":
    main()
