"""An instance's console or output stream: logged to a file, watched for the ready marker."""

from __future__ import annotations

import collections
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from bench.core.errors import InstanceTimeout
from bench.images.artifacts import READY_MARKER

TAIL_LINES = 15


class MarkerLog:
    """Fed bytes from any thread; notes the host time the first marker line arrived."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._file: BinaryIO = path.open("ab", buffering=0)
        self._partial = b""
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._ended = threading.Event()
        self.ready_at: float | None = None  # perf_counter when the marker line was received
        self.ready_line = ""

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        with self._lock:
            if not self._file.closed:
                try:
                    self._file.write(data)
                except OSError:  # a full disk: the run's own writer stops the run and says so
                    self._file.close()
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()[-4096:]
            for raw in lines:
                self._line(raw.decode(errors="replace").rstrip("\r"), now)
            # the marker may come without a newline yet (console output is not line-buffered)
            if READY_MARKER.encode() in self._partial and self.ready_at is None:
                self._line(self._partial.decode(errors="replace"), now, keep=False)

    def _line(self, line: str, now: float, keep: bool = True) -> None:
        if keep:
            self._tail.append(line)
        if self.ready_at is None and READY_MARKER in line:
            self.ready_at = now
            self.ready_line = line[line.index(READY_MARKER) :].strip()
            self._ready.set()

    def end(self) -> None:
        """The stream closed: nothing more will come, so waiting for the marker is futile."""
        self._ended.set()
        self._ready.set()

    def wait_ended(self, timeout_s: float) -> bool:
        """Block until the stream closed (the instance is gone), at most timeout_s."""
        return self._ended.wait(timeout_s)

    def tail(self) -> str:
        with self._lock:
            lines = [*self._tail, self._partial.decode(errors="replace")]
        return "\n".join(line for line in lines if line.strip()) or "(no output at all)"

    def wait_ready(self, timeout_s: float, started: float) -> float:
        """Block (interruptibly) until the marker; return its perf_counter time."""
        deadline = started + timeout_s
        while not self._ready.wait(min(0.1, max(0.0, deadline - time.perf_counter()))):
            if time.perf_counter() >= deadline:
                break
        if self.ready_at is None:
            why = "its output ended" if self._ended.is_set() else f"within {timeout_s:g} s"
            raise InstanceTimeout(
                f"{self.name} did not print {READY_MARKER} ({why}); last lines:\n{self.tail()}",
                f"full log: {self.path}",
            )
        return self.ready_at

    def close(self) -> None:
        with self._lock:
            self._file.close()


def pump_until_ready(
    fd: int,
    log: MarkerLog,
    timeout_s: float,
    started: float,
    decode: Callable[[bytes], bytes] = bytes,
) -> float:
    """Read a pipe or socket (through decode) into log until the marker, EOF or the deadline."""
    deadline = started + timeout_s
    while log.ready_at is None:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        readable, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not readable:
            continue
        data = os.read(fd, 65536)
        if not data:
            log.end()
            break
        log.feed(decode(data))
    return log.wait_ready(timeout_s, started)
