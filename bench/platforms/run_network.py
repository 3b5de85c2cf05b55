"""The run's one libvirt network, shared by every libvirt platform of the run (one per VM
profile: libvirt, libvirt-tuned, libvirt-emulated), with guest addresses handed out and
taken back so that instances of different profiles never share one."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from bench.platforms import network

STATIC_GUESTS = 128 - network.FIRST_STATIC_HOST  # network.guest_address's range
_lock = threading.Lock()


@dataclass
class _Shared:
    net: network.LibvirtNetwork
    users: int = 0
    taken: set[int] = field(default_factory=set)
    handed: int = 0  # addresses handed out so far


_shared: dict[str, _Shared] = {}


def acquire(conn: Any, run_id: str) -> network.LibvirtNetwork:
    """The run's network, created by the first platform that asks."""
    with _lock:
        entry = _shared.get(run_id)
        if entry is None:
            entry = _shared[run_id] = _Shared(network.create_libvirt_network(conn, run_id))
        entry.users += 1
        return entry.net


def release(conn: Any, run_id: str) -> None:
    """One platform is done with it; the last one removes it."""
    with _lock:
        entry = _shared.get(run_id)
        if entry is None:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        del _shared[run_id]
    network.remove_libvirt_network(conn, entry.net.name)


def take_address(run_id: str) -> int:
    """A guest address index no live instance of the run holds: a new one while the static
    range lasts (a reused address could meet a stale ARP entry of the host), then the lowest
    free one."""
    with _lock:
        entry = _shared[run_id]
        index = entry.handed
        if index >= STATIC_GUESTS:
            index = next(i for i in range(len(entry.taken) + 1) if i not in entry.taken)
        entry.net.guest_address(index)  # raises when every static address is taken
        entry.handed += 1
        entry.taken.add(index)
        return index


def give_address(run_id: str, index: int) -> None:
    with _lock:
        entry = _shared.get(run_id)
        if entry is not None:
            entry.taken.discard(index)
