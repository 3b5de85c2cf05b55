"""One way to reach dockerd, shared by the doctor, the image builder and the docker platform."""

from __future__ import annotations

from typing import Any

from bench.core.errors import BenchError, first_line

DOWN_HINT = "run `vcbench host setup` (or check DOCKER_HOST)"


def connect(timeout: float = 120, error: type[BenchError] = BenchError) -> Any:
    """A docker SDK client that has answered a ping, or `error` saying dockerd is down."""
    import docker

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no daemon"
        raise error(f"dockerd is not reachable ({first_line(exc)})", DOWN_HINT) from exc
    return client
