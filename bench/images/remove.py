"""Removing an image set: its cache entry, the Docker image it made and podman's copy."""

from __future__ import annotations

from bench.core import paths
from bench.core.errors import ImageError
from bench.images import docker_image, podman_image
from bench.images.cache import Cache
from bench.images.record import load_record

MIN_PREFIX = 4


def remove(digest_prefix: str) -> list[str]:
    """Remove every entry whose digest starts with the prefix; returns the full digests.

    The podman and Docker images go first: if either refuses (a container still uses it),
    the cache entry stays, and the next `rm` finishes the job.
    """
    prefix = digest_prefix.lower().removeprefix("sha256:")
    if len(prefix) < MIN_PREFIX:
        raise ImageError(f"digest prefix {digest_prefix!r} is too short", "give 4+ hex digits")
    cache = Cache(paths.cache_dir())
    with cache.locked():
        records = [(e, load_record(e)) for e in cache.entries()]
        doomed = [(e, r) for e, r in records if r.digest.startswith(prefix)]
        if not doomed:
            raise ImageError(f"no image with digest {digest_prefix}", "see `vcbench images list`")
        kept = {r.digest for e, r in records if (e, r) not in doomed}
        client = docker_image.connect()
        for entry, record in doomed:
            if record.digest not in kept:  # another spec built the same userland: keep it
                podman_image.remove(record.digest)
                docker_image.remove(client, record.digest)
            cache.remove(entry)
    return sorted({r.digest for _, r in doomed})
