"""Root podman on this host: its command line, one call at a time, and what it runs with
(version, OCI runtime, cgroup manager). Shared by the doctor, the images step (which loads
the Docker image into podman) and the podman platform."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import PlatformError
from bench.core.proc import run, tail

PODMAN = "podman"
CLI_TIMEOUT_S = 60.0
# crun refuses hybrid cgroup hosts (v1 controllers + a unified mount): runc works on both.
HYBRID_RUNTIME = "runc"
UNIFIED = Path("/sys/fs/cgroup/unified")


def podman(*args: str, timeout: float = CLI_TIMEOUT_S, check: bool = True) -> str:
    """One podman CLI call's stdout; BenchError with its stderr's last line on failure."""
    done = run([PODMAN, *args], timeout=timeout, check=False, hint="run `vcbench host setup`")
    if check and done.returncode != 0:
        raise PlatformError(f"podman {args[0]} failed: {tail(done.stderr or done.stdout)}")
    return done.stdout


@dataclass(frozen=True)
class HostInfo:
    version: str
    runtime: str  # the OCI runtime podman is told to use here
    default_runtime: str  # what podman would pick by itself
    cgroup_manager: str
    cgroup_version: str


def choose_runtime(default: str) -> str:
    """runc on a hybrid cgroup host (crun: "cgroups in hybrid mode not supported")."""
    return HYBRID_RUNTIME if UNIFIED.is_dir() else default


def host_info() -> HostInfo:
    info = json.loads(podman("info", "--format", "json"))
    host = info.get("host", {})
    default = str(host.get("ociRuntime", {}).get("name", "runc"))
    return HostInfo(
        version=str(info.get("version", {}).get("Version", "unknown")),
        runtime=choose_runtime(default),
        default_runtime=default,
        cgroup_manager=str(host.get("cgroupManager", "unknown")),
        cgroup_version=str(host.get("cgroupVersion", "unknown")),
    )
