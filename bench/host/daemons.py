"""Make sure containerd, dockerd, virtlogd and libvirtd run, with or without systemd.

Without a service manager (containers, CI sandboxes) vcbench starts each daemon itself,
detached, logging to its state directory, and waits until its socket answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.core import paths
from bench.core.errors import HostError
from bench.core.proc import run, tail


@dataclass(frozen=True)
class Daemon:
    name: str
    socket: Path
    argv: tuple[str, ...]  # how to start it without systemd
    unit: str  # the systemd unit that provides it
    daemonizes: bool  # forks into the background by itself (-d)
    http_ping: bool = False  # the socket speaks HTTP and must answer /_ping, not just accept
    pidfile: Path | None = None  # refuses to start while this names a process that exists


# Start order matters: dockerd needs containerd, libvirtd logs through virtlogd.
DAEMONS: tuple[Daemon, ...] = (
    Daemon(
        "containerd",
        Path("/run/containerd/containerd.sock"),
        ("containerd",),
        "containerd.service",
        daemonizes=False,
    ),
    Daemon(
        "dockerd",
        Path("/var/run/docker.sock"),
        ("dockerd", "--containerd=/run/containerd/containerd.sock"),
        "docker.service",
        daemonizes=False,
        http_ping=True,
        pidfile=Path("/var/run/docker.pid"),
    ),
    Daemon(
        "virtlogd",
        Path("/run/libvirt/virtlogd-sock"),
        ("virtlogd", "-d"),
        "virtlogd.service",
        daemonizes=True,
    ),
    Daemon(
        "libvirtd",
        Path("/run/libvirt/libvirt-sock"),
        ("libvirtd", "-d"),
        "libvirtd.service",
        daemonizes=True,
    ),
)

START_TIMEOUT_S = 60.0


def by_name(name: str) -> Daemon:
    return next(d for d in DAEMONS if d.name == name)


def answers(daemon: Daemon, timeout: float = 2.0) -> bool:
    """True when the daemon's socket accepts a connection (and, for dockerd, answers _ping)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(daemon.socket))
            if not daemon.http_ping:
                return True
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            return status_line.startswith(b"HTTP/1.") and b" 200" in status_line
        except OSError:
            return False


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir()


def log_path(daemon: Daemon) -> Path:
    return paths.state_dir() / "logs" / f"{daemon.name}.log"


def log_hint(daemon: Daemon) -> str:
    """Where a daemon started by start() logs: systemd's journal for its unit, or the file
    vcbench gave it (under systemd that file is never written)."""
    if has_systemd():
        return f"journalctl -u {daemon.unit}"
    return str(log_path(daemon))


def start(daemon: Daemon) -> None:
    """Start one daemon and wait until it answers; raise HostError naming its log if not."""
    if has_systemd():
        run(["systemctl", "start", daemon.unit], timeout=START_TIMEOUT_S)
    else:
        _spawn(daemon)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(daemon):
        if time.monotonic() > deadline:
            raise HostError(
                f"{daemon.name} did not answer on {daemon.socket} within {START_TIMEOUT_S:g} s",
                f"see {log_hint(daemon)}" + ("" if has_systemd() else f" ({_log_tail(daemon)})"),
            )
        time.sleep(0.1)


def _clear_stale_pidfile(daemon: Daemon) -> None:
    """A killed dockerd leaves its pid file, and stays a zombie until PID 1 reaps it (slowly,
    here): dockerd then refuses to start ("pid file found"). A dead or zombie pid is stale."""
    if daemon.pidfile is None:
        return
    try:
        pid = int(daemon.pidfile.read_text().strip() or 0)
    except (OSError, ValueError):
        return
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = "gone"
    if pid <= 0 or state in ("gone", "Z", "X"):
        daemon.pidfile.unlink(missing_ok=True)


def _spawn(daemon: Daemon) -> None:
    _clear_stale_pidfile(daemon)
    log = log_path(daemon)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            daemon.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=_daemon_env(),
        )
    if daemon.daemonizes:
        # Reap the parent that forked the daemon: zombies are collected slowly here.
        if child.wait(timeout=START_TIMEOUT_S) != 0:
            raise HostError(f"{daemon.name} failed to start", f"see {log} ({_log_tail(daemon)})")
    else:
        (paths.state_dir() / f"{daemon.name}.pid").write_text(f"{child.pid}\n")


def _daemon_env() -> dict[str, str]:
    # Daemons outlive this process: give them a plain PATH, not the venv's.
    keep = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "LC_ALL"}}
    keep["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return keep


def _log_tail(daemon: Daemon) -> str:
    try:
        return tail(log_path(daemon).read_text(errors="replace"))
    except OSError:
        return "no log"
