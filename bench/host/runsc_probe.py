"""Which runsc configuration runs on this host: the fastest platform (how the sentry traps
system calls), and gVisor's own network stack wherever it can be had.

Each candidate is tried for real: `runsc do` for the platform, and for the network a
one-command OCI bundle run in a network namespace of its own, which is what dockerd gives
runsc (`runsc do` makes its network with sysctl calls that fail on some hosts for reasons of
their own, so it cannot tell).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bench.core.paths import atomic_path

# Preferred first; 2022's Debian build knows no systrap, and KVM needs a /dev/kvm that runs
# gVisor's own guest code (a nested kvm-pvm device hangs it): ptrace runs everywhere.
PLATFORM_CHOICES = ("systrap", "kvm")
FALLBACK_PLATFORM = "ptrace"
PROBE_TIMEOUT_S = 20.0
NETNS_WAIT_S = 5.0
# dockerd runs this, not the venv's copy: it has to outlive any checkout or virtualenv.
WRAPPER = Path("/usr/local/libexec/vcbench/runsc-netns")
WRAPPER_NOTE = (
    "netstack through vcbench's runsc-netns wrapper (this runsc takes any namespace showing"
    " /proc/sys/net/core/rmem_default for the host's, as every one does on newer kernels;"
    " the wrapper hides /proc/sys/net from runsc alone)"
)


@dataclass(frozen=True)
class RunscChoice:
    """What dockerd runs for the runsc runtime here, and why: recorded in the fingerprint."""

    platform: str
    network: str  # "sandbox" (gVisor's netstack) or "host" (the host stack in the netns)
    path: str  # the runsc binary, or the wrapper around it
    reason: str

    def runtime_args(self) -> list[str]:
        return [f"--platform={self.platform}", f"--network={self.network}"]


def _finishes(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return done.returncode == 0


def platform_runs(runsc: str, platform: str) -> bool:
    return _finishes([runsc, f"--platform={platform}", "--network=none", "do", "true"])


def netstack_runs(argv0: str, platform: str) -> bool:
    """`argv0 --network=sandbox run` of /bin/true, in a fresh network namespace, succeeds."""
    with tempfile.TemporaryDirectory(prefix="vcbench-runsc-probe-") as tmp:
        holder = subprocess.Popen(["unshare", "--net", "sleep", str(PROBE_TIMEOUT_S * 2)])
        try:
            netns = _own_netns(holder.pid)
            if netns is None:
                return False
            bundle = _write_bundle(Path(tmp), netns)
            return _finishes(
                [
                    argv0,
                    f"--platform={platform}",
                    "--network=sandbox",
                    f"--root={tmp}/state",
                    "run",
                    f"--bundle={bundle}",
                    f"vcbench-probe-{os.getpid()}",
                ]
            )
        finally:
            holder.kill()
            holder.wait()


def _own_netns(pid: int) -> str | None:
    """/proc/PID/ns/net once `unshare` has moved PID out of our namespace (None: it did not)."""
    ours = os.readlink("/proc/self/ns/net")
    path = f"/proc/{pid}/ns/net"
    deadline = time.monotonic() + NETNS_WAIT_S
    while time.monotonic() < deadline:
        try:
            if os.readlink(path) != ours:
                return path
        except OSError:
            return None  # the holder died: unshare is missing or refused
        time.sleep(0.01)
    return None


def _write_bundle(directory: Path, netns: str) -> Path:
    """The host's / read-only as the root, /bin/true as the command, netns to join."""
    spec = {
        "ociVersion": "1.0.0",
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/usr/bin:/bin"],
            "cwd": "/",
        },
        "root": {"path": "/", "readonly": True},
        "hostname": "vcbench-probe",
        "linux": {
            "namespaces": [
                {"type": "pid"},
                {"type": "network", "path": netns},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ]
        },
    }
    (directory / "config.json").write_text(json.dumps(spec))
    return directory


def wrapper_text(runsc: str) -> str:
    return (resources.files("bench.host") / "runsc-netns.sh").read_text().replace("@RUNSC@", runsc)


def wrapper_current(runsc: str, target: Path = WRAPPER) -> bool:
    return _holds(target, wrapper_text(runsc))


def _holds(target: Path, text: str) -> bool:
    return target.exists() and target.read_text() == text


def install_wrapper(runsc: str, target: Path = WRAPPER) -> bool:
    """The wrapper at target, running this runsc; True if it was written (absent or stale)."""
    text = wrapper_text(runsc)
    if _holds(target, text):
        return False
    with atomic_path(target) as tmp:
        tmp.write_text(text)
        tmp.chmod(0o755)
    return True


def probe(runsc: str, wrapper: Path = WRAPPER) -> RunscChoice:
    """The fastest platform that runs here, and netstack: plain, else through the wrapper
    (installed for the trial, and left for dockerd if chosen), else the host's stack."""
    platform = next((p for p in PLATFORM_CHOICES if platform_runs(runsc, p)), FALLBACK_PLATFORM)
    reason = platform
    if platform == FALLBACK_PLATFORM:
        reason += f" ({', '.join(PLATFORM_CHOICES)}: did not run here)"
    if netstack_runs(runsc, platform):
        return RunscChoice(platform, "sandbox", runsc, reason + "; network: gVisor netstack")
    install_wrapper(runsc, wrapper)
    if netstack_runs(str(wrapper), platform):
        return RunscChoice(platform, "sandbox", str(wrapper), f"{reason}; network: {WRAPPER_NOTE}")
    wrapper.unlink(missing_ok=True)
    return RunscChoice(
        platform,
        "host",
        runsc,
        reason + "; network: the host stack in the container's namespace (runsc refused"
        " netstack here, plain and through vcbench's wrapper)",
    )
