"""`vcbench images ...`: build, list and remove image sets. Registered by bench/cli/main.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.core import paths


@click.group()
def images() -> None:
    """The one userland: rootfs tarball, Docker image, VM disk + kernel + initramfs."""


@images.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the spec's images are cached.")
@click.option(
    "--spec", "spec_path", type=click.Path(path_type=Path), help="Image spec TOML (default: ours)."
)
def build_cmd(force: bool, spec_path: Path | None) -> None:
    """Build what is missing (an unchanged spec answers from the cache at once)."""
    from bench.images.build import build

    images_set = build(spec_path, force=force, progress=click.echo)
    click.echo(f"{images_set.digest}  {images_set.docker_tag}  {images_set.root}")


@images.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """Every built image set: digest, sizes, kernel, build time."""
    from bench.images.cache import Cache
    from bench.images.record import load_record

    entries = [(e, load_record(e)) for e in Cache(paths.cache_dir()).entries()]
    if as_json:
        rows = [{**r.model_dump(mode="json"), "path": str(e)} for e, r in entries]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo("no images built; run `vcbench images build`")
    for _, r in entries:
        s = r.sizes
        click.echo(
            f"{r.digest[:12]}  docker {_mb(s.docker_image)}  tar {_mb(s.rootfs_tar)}  "
            f"disk {_mb(s.disk_apparent)} apparent / {_mb(s.disk_allocated)} allocated  "
            f"kernel+initramfs {_mb(s.kernel + s.initramfs)} ({r.kernel_version})  "
            f"built {r.built_at} in {r.build_seconds:.0f} s"
        )


@images.command("rm")
@click.argument("digest")
def rm_cmd(digest: str) -> None:
    """Remove the image sets whose digest starts with DIGEST, and their Docker and podman copies."""
    from bench.images.remove import remove

    for removed in remove(digest):
        click.echo(f"removed {removed}")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"
