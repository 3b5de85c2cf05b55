"""gVisor's runsc as a Docker runtime: choose its platform and network, register it in
/etc/docker/daemon.json (keeping every other key), and make a running dockerd see it.

dockerd 20.10 reloads the `runtimes` key on SIGHUP, so registering never restarts a dockerd
someone else may be using; a dockerd that is not running reads the file when it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.errors import HostError

DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKER_PID = Path("/var/run/docker.pid")
RUNTIME = "runsc"
# Preferred first; 2022's Debian build knows no systrap, and KVM needs a /dev/kvm that runs
# gVisor's own guest code (a nested kvm-pvm device hangs it): ptrace runs everywhere.
PLATFORM_CHOICES = ("systrap", "kvm")
FALLBACK_PLATFORM = "ptrace"
PROBE_TIMEOUT_S = 15.0
RELOAD_TIMEOUT_S = 20.0
RUNSC_PATH = "/usr/bin/runsc"


@dataclass(frozen=True)
class RunscChoice:
    """What runsc runs with here, and why: recorded in the fingerprint."""

    platform: str
    network: str  # "sandbox" (gVisor's netstack) or "host" (the host stack in the netns)
    reason: str

    def runtime_args(self) -> list[str]:
        return [f"--platform={self.platform}", f"--network={self.network}"]


def binary() -> str | None:
    """runsc's path: on PATH, or where Debian puts it (a venv's PATH may lack /usr/bin)."""
    return shutil.which(RUNTIME) or (RUNSC_PATH if Path(RUNSC_PATH).exists() else None)


def _works(runsc: str, *args: str) -> bool:
    """`runsc do true` with these flags finishes well within the probe timeout."""
    argv = [runsc, *args, "do", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def probe(runsc: str) -> RunscChoice:
    """The fastest platform that runs here, and netstack unless this runsc refuses it.

    runsc 20221219 takes any network namespace that shows /proc/sys/net/core/rmem_default
    for the host's (newer kernels show it in every one) and refuses netstack there: the host
    network stack inside the container's own namespace is then the only network it has."""
    platform = next(
        (p for p in PLATFORM_CHOICES if _works(runsc, f"--platform={p}", "--network=none")),
        FALLBACK_PLATFORM,
    )
    reason = platform
    if platform == FALLBACK_PLATFORM:
        reason += f" ({', '.join(PLATFORM_CHOICES)}: did not run here)"
    if _works(runsc, f"--platform={platform}", "--network=sandbox"):
        return RunscChoice(platform, "sandbox", reason + "; network: gVisor netstack")
    return RunscChoice(
        platform,
        "host",
        reason + "; network: host stack in the container's namespace (this runsc refuses"
        " netstack here: its root-namespace check misfires on this kernel)",
    )


def read_config(path: Path = DAEMON_JSON) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except ValueError as exc:
        raise HostError(f"{path} is not valid JSON ({exc})", f"fix or remove {path}") from exc
    if not isinstance(data, dict):
        raise HostError(f"{path} is not a JSON object", f"fix or remove {path}")
    return data


def registered(path: Path = DAEMON_JSON) -> dict[str, Any] | None:
    """The runsc entry of daemon.json's runtimes, or None."""
    entry = read_config(path).get("runtimes", {}).get(RUNTIME)
    return entry if isinstance(entry, dict) else None


def with_runtime(config: dict[str, Any], runsc: str, choice: RunscChoice) -> dict[str, Any]:
    """config with runtimes.runsc added; every other key, and other runtimes, kept as they are."""
    runtimes = dict(config.get("runtimes") or {})
    runtimes[RUNTIME] = {"path": runsc, "runtimeArgs": choice.runtime_args()}
    return {**config, "runtimes": runtimes}


def write_config(config: dict[str, Any], path: Path = DAEMON_JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".vcbench-tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    if path.exists():
        tmp.chmod(path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def register(path: Path = DAEMON_JSON) -> str | None:
    """Add runsc to daemon.json if it is not there; what was done, or None if nothing was.

    An existing runsc entry is left alone (someone chose its flags), and the file is only
    rewritten when it changes."""
    runsc = binary()
    if runsc is None or registered(path) is not None:
        return None
    choice = probe(runsc)
    write_config(with_runtime(read_config(path), runsc, choice), path)
    return f"registered runsc ({' '.join(choice.runtime_args())}) in {path}: {choice.reason}"


def dockerd_runtimes(client: Any) -> dict[str, Any]:
    runtimes = client.info().get("Runtimes") or {}
    return runtimes if isinstance(runtimes, dict) else {}


def reload_dockerd(client: Any) -> str:
    """SIGHUP the running dockerd and wait until it lists runsc; no restart."""
    try:
        pid = int(DOCKER_PID.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise HostError(
            f"cannot signal dockerd to reload {DAEMON_JSON} ({exc})",
            "restart dockerd by hand so it reads the runsc runtime",
        ) from exc
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while RUNTIME not in dockerd_runtimes(client):
        if time.monotonic() > deadline:
            raise HostError(
                f"dockerd did not list the runsc runtime {RELOAD_TIMEOUT_S:g} s after SIGHUP",
                f"check {DAEMON_JSON}, then restart dockerd",
            )
        time.sleep(0.1)
    return f"reloaded dockerd (SIGHUP, pid {pid}): it lists runsc, no restart"


def runtime_flags(entry: dict[str, Any] | None) -> dict[str, str]:
    """--platform and --network of a runtime entry (docker info's or daemon.json's)."""
    args = (entry or {}).get("runtimeArgs") or []
    flags = {"platform": FALLBACK_PLATFORM, "network": "sandbox"}  # runsc's own defaults
    for arg in args:
        key, _, value = str(arg).lstrip("-").partition("=")
        if key in flags and value:
            flags[key] = value
    return flags
