"""Commands inside a VM through qemu-guest-agent (via libvirt): no SSH, no keys.

Output never travels in the guest-exec reply: libvirt rejects replies over 4 MiB and a
reply of ~8 MB wedges the agent. The command writes its stdout/stderr to files in the
guest's /tmp, and the host reads them back in chunks, whatever their size.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.core.errors import PlatformError

AGENT_TIMEOUT_S = 10  # one agent round trip; commands themselves have their own timeout
RECONNECTED_TIMEOUT_S = 60.0  # a restarted libvirtd reattaches to the agent within seconds
READ_CHUNK = 1 << 20  # 1 MiB a guest-file-read: ~1.4 MB of base64, well under 4 MiB
# $0 is the output file stem; exec keeps the command's pid the one guest-exec reports.
REDIRECT = 'exec "$@" > "$0.out" 2> "$0.err"'
KILL = 'pkill -KILL -P "$0"; kill -KILL "$0"'


class GuestAgent:
    """reconnect, when given, returns the domain anew after libvirtd restarted; a command cut
    by the restart is then sent once more (the guest's qemu-ga never noticed)."""

    def __init__(self, domain: Any, name: str, reconnect: Callable[[], Any] | None = None) -> None:
        self._domain = domain
        self._name = name
        self._serial = itertools.count(1)
        self._reconnect = reconnect

    def command(self, execute: str, timeout: int = AGENT_TIMEOUT_S, **arguments: Any) -> Any:
        import libvirt

        request: dict[str, Any] = {"execute": execute}
        if arguments:
            request["arguments"] = arguments
        try:
            return self._send(request, timeout)
        except libvirt.libvirtError as exc:
            if self._reconnect is None or _connected(self._domain):
                raise PlatformError(f"{self._name}: guest agent {execute} failed: {exc}") from exc
        self._domain = self._reconnect()
        self.wait_connected(time.perf_counter() + RECONNECTED_TIMEOUT_S)
        try:
            return self._send(request, timeout)
        except libvirt.libvirtError as exc:
            raise PlatformError(f"{self._name}: guest agent {execute} failed: {exc}") from exc

    def _send(self, request: dict[str, Any], timeout: int) -> Any:
        import libvirt_qemu

        reply = libvirt_qemu.qemuAgentCommand(self._domain, json.dumps(request), timeout, 0)
        return json.loads(reply)["return"]

    def wait_connected(self, deadline: float) -> float:
        """Ping until the agent answers (it daemonizes before its port is open)."""
        while True:
            try:
                self.command("guest-ping", timeout=1)
                return time.perf_counter()
            except PlatformError:
                if time.perf_counter() >= deadline:
                    raise
                time.sleep(0.01)

    def spawn(self, argv: Sequence[str]) -> tuple[int, str]:
        """Start argv with output to files; its guest pid and the file stem."""
        stem = f"/tmp/vcbench-exec-{next(self._serial)}"
        started = self.command("guest-exec", path="/bin/sh", arg=["-c", REDIRECT, stem, *argv])
        return int(started["pid"]), stem

    def wait_exit(self, pid: int, deadline: float) -> int | None:
        """The exit code (128+signal when killed, as a shell says), or None at the deadline."""
        pause = 0.002
        while True:
            status = self.command("guest-exec-status", pid=pid)
            if status.get("exited"):
                if "exitcode" in status:
                    return int(status["exitcode"])
                return 128 + int(status["signal"])
            if time.perf_counter() >= deadline:
                return None
            time.sleep(min(pause, max(0.0, deadline - time.perf_counter())))
            pause = min(pause * 2, 0.05)

    def kill(self, pid: int) -> None:
        """Kill the command and its children, then collect its status so the agent forgets it."""
        killer = self.command("guest-exec", path="/bin/sh", arg=["-c", KILL, str(pid)])
        self.wait_exit(int(killer["pid"]), time.perf_counter() + AGENT_TIMEOUT_S)
        self.wait_exit(pid, time.perf_counter() + AGENT_TIMEOUT_S)

    def take_file(self, path: str) -> bytes:
        """Read a guest file to the end in chunks, then empty it (the guest's /tmp is RAM)."""
        handle = self.command("guest-file-open", path=path, mode="r")
        chunks: list[bytes] = []
        try:
            while True:
                piece = self.command("guest-file-read", handle=handle, count=READ_CHUNK)
                chunks.append(base64.b64decode(piece.get("buf-b64", "")))
                if piece.get("eof") or not piece.get("count"):
                    break
        finally:
            self.command("guest-file-close", handle=handle)
        data = b"".join(chunks)
        if data:  # an empty file costs no memory: spare the two round trips
            emptied = self.command("guest-file-open", path=path, mode="w")
            self.command("guest-file-close", handle=emptied)
        return data


def _connected(domain: Any) -> bool:
    import libvirt

    try:
        return bool(domain.connect().isAlive())
    except libvirt.libvirtError:
        return False
