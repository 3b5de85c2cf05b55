"""Docker's multiplexed attach/exec stream (non-tty): 8-byte frame headers, stream 1 or 2."""

from __future__ import annotations

import os
import select
import struct
import time
from collections.abc import Callable

HEADER = struct.Struct(">BxxxL")
ALIVE_EVERY_S = 2.0


class Demux:
    """Feed raw socket bytes in any chunking; get (stream, payload) pieces back."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buffer)
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append((stream, self._buffer[HEADER.size : end]))
            self._buffer = self._buffer[end:]
        return frames

    def merged(self, data: bytes) -> bytes:
        """stdout and stderr interleaved, as a console would show them."""
        return b"".join(payload for _, payload in self.feed(data))


def read_all(
    fd: int, deadline: float, alive: Callable[[], bool] = lambda: True
) -> tuple[bytes, bytes] | None:
    """stdout and stderr until EOF, or None if the perf_counter deadline passes first, or if
    `alive` (asked when the stream is quiet, every ALIVE_EVERY_S) says its source is gone."""
    demux = Demux()
    out: list[bytes] = []
    err: list[bytes] = []
    asked = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now >= deadline:
            return None
        readable, _, _ = select.select([fd], [], [], min(deadline - now, 0.5))
        if not readable:
            if time.perf_counter() - asked >= ALIVE_EVERY_S:
                if not alive():
                    return None
                asked = time.perf_counter()
            continue
        data = os.read(fd, 1 << 20)
        if not data:
            return b"".join(out), b"".join(err)
        for stream, payload in demux.feed(data):
            (err if stream == 2 else out).append(payload)
