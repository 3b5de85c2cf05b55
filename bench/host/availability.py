"""Whether a platform asked for by name can run on this host, before anything starts.

native, docker and libvirt fail later with their daemons' own words; gvisor and podman are
optional extras of the host setup, so asking for one that is not there is bad input."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from bench.core.errors import BenchError
from bench.core.platform_names import base_of
from bench.host import runsc

SETUP_FIX = "run `vcbench host setup`"


def gvisor_problem() -> str | None:

    if runsc.binary() is None:
        return "runsc is not installed"
    try:
        entry = runsc.dockerd_entry()
    except BenchError:
        return None  # dockerd down: the docker platform's own message says so, the same way
    if entry is None:
        return "dockerd has no runsc runtime (not registered in /etc/docker/daemon.json)"
    return None


def podman_problem() -> str | None:
    return None if shutil.which("podman") else "podman is not installed"


PROBLEMS = {"gvisor": gvisor_problem, "podman": podman_problem}


def problem_of(platform: str) -> str | None:
    """Why this host cannot run an optional platform (gvisor, podman), else None."""
    check = PROBLEMS.get(base_of(platform))
    return check() if check else None


def require_available(platforms: Iterable[str]) -> None:
    """BenchError (one line, exit 2) naming the first platform this host cannot run."""
    for platform in platforms:
        problem = problem_of(platform)
        if problem:
            raise BenchError(f"--platforms: {platform} is not available here: {problem}", SETUP_FIX)
