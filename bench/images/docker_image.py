"""The Docker image: `docker import` of the rootfs tarball, tagged by digest and labelled.

The import streams rootfs.tar itself with /etc/vcbench-rootfs appended (see rootfs.py for
the identity scheme), so no second 300 MB tarball is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.core import dockerd
from bench.core.errors import ImageError, first_line
from bench.images import rootfs

REPOSITORY = "vcbench/rootfs"
LABEL = "vcbench.rootfs"


def tag_for(digest: str) -> str:
    return f"{REPOSITORY}:{digest[:12]}"


def connect() -> Any:
    return dockerd.connect(120, ImageError)


def exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise ImageError(
            f"docker cannot look up {tag} ({first_line(exc)})", dockerd.DOWN_HINT
        ) from exc
    return True


def import_rootfs(client: Any, tar: Path, digest: str, mtime: int) -> int:
    """Import, tag and label the image; returns its size in bytes as docker reports it."""
    import docker.errors

    tag = tag_for(digest)
    changes = [f"LABEL {LABEL}={digest}", 'CMD ["/usr/local/sbin/vcbench-ready"]']
    try:
        client.api.import_image(
            src=_stream(tar, digest, mtime),
            repository=REPOSITORY,
            tag=digest[:12],
            changes=changes,
            stream_src=True,
        )
        image = client.images.get(tag)
    except docker.errors.DockerException as exc:
        raise ImageError(f"docker import failed ({first_line(exc)})", dockerd.DOWN_HINT) from exc
    if image.labels.get(LABEL) != digest:
        raise ImageError(f"docker import of {tag} lost its {LABEL} label", "rebuild with --force")
    return int(image.attrs["Size"])


def remove(client: Any, digest: str) -> bool:
    """Remove the image made for digest; False if it was already gone."""
    import docker.errors

    try:
        client.images.remove(tag_for(digest))
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise ImageError(
            f"docker cannot remove {tag_for(digest)} ({first_line(exc)})",
            "remove the containers using it first (`vcbench gc`)",
        ) from exc
    return True


def _stream(tar: Path, digest: str, mtime: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """rootfs.tar up to its end-of-archive blocks, the identity member, a new end."""
    end = rootfs.data_end(tar)
    with tar.open("rb") as f:
        left = end
        while left > 0:
            block = f.read(min(chunk, left))
            if not block:
                raise ImageError(f"{tar} shrank while being imported", "rebuild with --force")
            left -= len(block)
            yield block
    yield rootfs.identity_member(digest, mtime)
    yield b"\0" * (2 * 512)
