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
import time
from pathlib import Path
from typing import Any, Literal

from bench.core import dockerd
from bench.core.errors import HostError
from bench.core.paths import atomic_path
from bench.host.runsc_probe import (
    FALLBACK_PLATFORM,
    WRAPPER,
    RunscChoice,
    install_wrapper,
    probe,
    wrapper_current,
)

DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKER_PID = Path("/var/run/docker.pid")
PROBE_RECORD = WRAPPER.parent / "runsc-probe.json"  # what the last probe chose, and why
RUNTIME = "runsc"
RELOAD_TIMEOUT_S = 20.0
RUNSC_PATH = "/usr/bin/runsc"


def binary() -> str | None:
    """runsc's path: on PATH, or where Debian puts it (a venv's PATH may lack /usr/bin)."""
    return shutil.which(RUNTIME) or (RUNSC_PATH if Path(RUNSC_PATH).exists() else None)


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


def with_runtime(config: dict[str, Any], choice: RunscChoice) -> dict[str, Any]:
    """config with runtimes.runsc added; every other key, and other runtimes, kept as they are."""
    runtimes = dict(config.get("runtimes") or {})
    runtimes[RUNTIME] = {"path": choice.path, "runtimeArgs": choice.runtime_args()}
    return {**config, "runtimes": runtimes}


def write_config(config: dict[str, Any], path: Path = DAEMON_JSON) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        if path.exists():
            tmp.chmod(path.stat().st_mode & 0o777)


def stale(entry: dict[str, Any] | None, record: Path = PROBE_RECORD) -> bool:
    """An entry an earlier vcbench wrote on the host network, before it knew the wrapper (no
    probe of this one on record chose it): worth a new probe. Any other entry is someone's
    choice and stays as it is."""
    if entry is None or entry.get("path") not in (binary(), str(WRAPPER)):
        return False
    args = entry.get("runtimeArgs") or []
    ours = len(args) == 2 and args[0].startswith("--platform=") and args[1] == "--network=host"
    return ours and recorded_choice(record) != entry


def recorded_choice(record: Path = PROBE_RECORD) -> dict[str, Any] | None:
    """The runtime entry the last probe chose, with its reason, or None."""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return data.get("entry") if isinstance(data, dict) else None


def record_choice(choice: RunscChoice, record: Path = PROBE_RECORD) -> None:
    entry = {"path": choice.path, "runtimeArgs": choice.runtime_args()}
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps({"entry": entry, "reason": choice.reason}, indent=2) + "\n")


def pending(
    path: Path = DAEMON_JSON, record: Path = PROBE_RECORD
) -> Literal["probe", "wrapper"] | None:
    """What registering has to do: probe (no runsc entry, or an earlier vcbench's host-network
    one), put the wrapper back (ours, with its wrapper gone or stale), or nothing."""
    entry = registered(path)
    if entry is None or stale(entry, record):
        return "probe"
    runsc = binary()
    if entry.get("path") == str(WRAPPER) and runsc is not None and not wrapper_current(runsc):
        return "wrapper"
    return None


def needs_registering(path: Path = DAEMON_JSON, record: Path = PROBE_RECORD) -> bool:
    return pending(path, record) is not None


def register(path: Path = DAEMON_JSON, record: Path = PROBE_RECORD) -> str | None:
    """Add runsc to daemon.json if it is not there (or is an earlier vcbench's host-network
    entry); what was done, or None if nothing was. Someone else's runsc entry is left alone
    (they chose its flags), and the file is only rewritten when it changes."""
    runsc = binary()
    todo = pending(path, record)
    if runsc is None or todo is None:
        return None
    if todo == "wrapper":
        install_wrapper(runsc)
        return f"reinstalled {WRAPPER}, which dockerd runs as the runsc runtime"
    before = registered(path)
    choice = probe(runsc)
    record_choice(choice, record)
    after = with_runtime(read_config(path), choice)
    if after["runtimes"][RUNTIME] == before:
        return None
    write_config(after, path)
    return f"registered runsc ({' '.join(choice.runtime_args())}) in {path}: {choice.reason}"


def dockerd_entry() -> dict[str, Any] | None:
    """dockerd's runsc runtime entry (None: it has none); BenchError if dockerd is down."""
    client = dockerd.connect(timeout=10)
    try:
        return dockerd_runtimes(client).get(RUNTIME)
    finally:
        client.close()


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


def network_label(entry: dict[str, Any] | None) -> str:
    """What the sandbox's network is, in words for doctor and the fingerprint."""
    if runtime_flags(entry)["network"] == "host":
        return "host stack (--network=host)"
    if (entry or {}).get("path") == str(WRAPPER):
        return "gVisor netstack (through vcbench's runsc-netns wrapper)"
    return "gVisor netstack"
