"""`vcbench exec` and `vcbench gc`; bench/cli/main.py registers these commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

import click

from bench.cli.options import FiniteRange
from bench.core.platform_names import DOCKER_BASED, base_of
from bench.platforms import lifecycle
from bench.platforms.protocol import AccelChoice, InstanceSpec, Limits, PlatformConfig
from bench.platforms.registry import open_platform, platform_names


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("--platform", "platform_name", type=click.Choice(platform_names()), required=True)
@click.option("--vcpus", type=int, default=1, show_default=True)
@click.option("--memory", "memory_mib", type=int, default=512, show_default=True,
              help="MiB.")  # fmt: skip
@click.option("--cpuset", default=None, help="Host CPUs, one per vCPU (default: the first N).")
@click.option("--accel", type=click.Choice(["kvm", "tcg", "auto"]), default="auto",
              show_default=True, help="VM only.")  # fmt: skip
@click.option("--timeout", type=FiniteRange(0, 86400, min_open=True), default=60.0,
              show_default=True,
              help="Seconds for startup and for the command each.")  # fmt: skip
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(
    platform_name: str, vcpus: int, memory_mib: int, cpuset: str | None, accel: str,
    timeout: float, command: tuple[str, ...],
) -> None:  # fmt: skip
    """Start one instance, run COMMAND in it, print its output and the startup time."""
    from bench.images.build import current
    from bench.platforms.labels import RunContext

    limits = Limits.on_host(vcpus, memory_mib, cpuset)
    images = current(require_docker=base_of(platform_name) in DOCKER_BASED)
    config = PlatformConfig(RunContext.create(), images, cast(AccelChoice, accel))
    spec = InstanceSpec(limits, ready_timeout_s=timeout)
    with (
        lifecycle.sigterm_raises(),
        open_platform(platform_name, config) as platform,
        platform.start(spec) as instance,
    ):
        result = instance.exec(list(command), timeout=timeout)
        s = instance.startup
        info = instance.info
        click.echo(result.stdout, nl=False)
        click.echo(result.stderr, nl=False, err=True)
        click.echo(
            f"[{instance.name}] {platform_name} accel={instance.accel}"
            f" startup {s.total_s:.3f} s (create->running {s.create_to_running_s:.3f} s,"
            f" running->ready {s.running_to_ready_s:.3f} s)"
            + (f"; nproc {info.nproc}, memory {info.visible_memory_mib} MiB" if info else "")
            + f"; exec {result.wall_s:.3f} s, exit {result.exit_code}",
            err=True,
        )
    sys.exit(result.exit_code)


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def gc_command(dry_run: bool) -> None:
    """Remove containers, domains, networks, overlays and mounts that dead runs left."""
    from bench.platforms import gc

    sweep = gc.find(_docker_or_none(), _libvirt_or_none())
    if not dry_run:
        gc.collect(sweep)
    verb = "would remove" if dry_run else "removed"
    for item in sweep.found:
        click.echo(f"{verb} {item.describe()}")
    for what in sweep.unreachable:
        click.echo(f"skipped {what}: daemon not reachable", err=True)
    for failure in sweep.failed:
        click.echo(f"FAILED {failure}", err=True)
    click.echo(f"{len(sweep.found)} leftover(s) {'found' if dry_run else 'removed'}.")
    if sweep.failed:
        sys.exit(2)


def reap_leftovers(echo: Callable[[str], None]) -> Any:
    """Remove what dead runs left (gc.reap) and say each thing removed; the Sweep."""
    from bench.platforms import gc

    docker_client, conn = _docker_or_none(), _libvirt_or_none()
    try:
        sweep = gc.reap(docker_client, conn)
    finally:
        if docker_client is not None:
            docker_client.close()
        if conn is not None:
            conn.close()
    for item in sweep.found:
        echo(f"reaped {item.describe()}: its run's owner is gone")
    for failure in sweep.failed:
        echo(f"could not reap {failure}")
    return sweep


def _docker_or_none() -> Any:
    from bench.core.errors import BenchError
    from bench.platforms.docker import connect

    try:
        return connect()
    except BenchError:
        return None


def _libvirt_or_none() -> Any:
    from bench.core.errors import BenchError
    from bench.platforms.libvirt import connect

    try:
        return connect()
    except BenchError:
        return None
