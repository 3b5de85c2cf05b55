"""The Podman image: dockerd's imported image, saved and loaded into podman's storage.

`docker save | podman load` keeps the image config, so the podman image has the Docker
image's id and its vcbench.rootfs label: one userland, checked rather than assumed.
Skipped on a host without podman (the podman platform then says what is missing).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from bench.core.errors import ImageError, first_line
from bench.core.podman_cli import PODMAN
from bench.core.proc import tail
from bench.images.docker_image import LABEL

LOAD_TIMEOUT_S = 600.0

REPOSITORY = "localhost/vcbench/rootfs"


def image_name(digest: str) -> str:
    return f"{REPOSITORY}:{digest[:12]}"


def present(digest: str) -> bool:
    done = subprocess.run(
        [PODMAN, "image", "exists", image_name(digest)], capture_output=True, timeout=60
    )
    return done.returncode == 0


def present_or_absent(digest: str) -> bool:
    """True when nothing is to do: no podman on this host, or it has the image."""
    return shutil.which(PODMAN) is None or present(digest)


def ensure(client: Any, docker_tag: str, digest: str) -> str | None:
    """Load the image into podman if podman is installed and lacks it; what was done."""
    if present_or_absent(digest):
        return None
    load(client, docker_tag, digest)
    return f"podman: loaded {image_name(digest)} from dockerd's {docker_tag}"


def load(client: Any, docker_tag: str, digest: str) -> None:
    import docker.errors

    name = image_name(digest)
    with subprocess.Popen(
        [PODMAN, "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None
        try:
            for chunk in client.images.get(docker_tag).save(named=True):
                proc.stdin.write(chunk)
        except (docker.errors.DockerException, BrokenPipeError) as exc:
            proc.kill()
            raise ImageError(f"docker save of {docker_tag} failed ({first_line(exc)})") from exc
        finally:
            proc.stdin.close()
            proc.stdin = None  # closed: communicate must not flush it
        out, err = proc.communicate(timeout=LOAD_TIMEOUT_S)
    if proc.returncode != 0:
        raise ImageError(f"podman load failed ({tail(err.decode(errors='replace'))})")
    loaded = out.decode(errors="replace").strip().rsplit(": ", 1)[-1]
    if loaded != name:  # docker's vcbench/rootfs:<tag> is localhost/... in podman's naming
        subprocess.run([PODMAN, "tag", loaded, name], check=True, capture_output=True)
    label = subprocess.run(
        [PODMAN, "image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if label != digest:
        raise ImageError(f"podman's {name} lost its {LABEL} label", "rebuild with --force")


def remove(digest: str) -> bool:
    """Remove podman's copy of the image (True if there was one). A podman container still
    using it makes podman refuse: an ImageError, so the cache entry stays, as with docker."""
    if shutil.which(PODMAN) is None or not present(digest):
        return False
    done = subprocess.run(
        [PODMAN, "rmi", image_name(digest)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ImageError(
            f"podman refused to remove {image_name(digest)} ({tail(done.stderr)})",
            "remove the podman containers using it (`vcbench gc`), then try again",
        )
    return True
