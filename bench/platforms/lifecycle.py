"""Nothing leaks: SIGTERM becomes an exception, and making or removing a resource is never cut
in half by a signal, so every resource that exists is known to a cleanup that will run."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same cleanup paths (and the CLI's exit 130) apply."""


def _raise_for(signum: int) -> None:
    if signum == signal.SIGTERM:
        raise Terminated("terminated by SIGTERM")
    raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """During the block, SIGTERM raises Terminated (by default it would kill us uncleaned)."""
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _raise_for(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded() -> Iterator[None]:
    """Defer SIGINT/SIGTERM until the block ends; then raise as they would have.

    Python raises KeyboardInterrupt between any two bytecodes, e.g. after createXML returned
    and before its result was stored: the domain would exist with nobody to destroy it.
    """
    if not _in_main_thread():
        yield
        return
    pending: list[signal.Signals] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        pending.append(signal.Signals(signum))

    previous = {s: signal.signal(s, defer) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:
            _replay(pending[0], previous[pending[0]])


def _replay(signum: signal.Signals, handler: Any) -> None:
    if handler == signal.SIG_IGN:
        return
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL or signum == signal.SIGINT:
        _raise_for(signum)


class Resources:
    """An ExitStack whose acquire and release steps are shielded from signals.

    Releases run in reverse order; one that fails is logged and the others still run, so a
    dead container never keeps a network or an overlay alive.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()

    def acquire(self, make: Callable[[], T], release: Callable[[T], object]) -> T:
        with shielded():
            thing = make()
            self._stack.callback(_quietly, release, thing)
        return thing

    def defer(self, release: Callable[[], object]) -> None:
        """Run release at close: for things made outside (e.g. by a child we spawned)."""
        self._stack.callback(_quietly, lambda _: release(), None)

    def close(self) -> None:
        with shielded():
            self._stack.close()

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly(release: Callable[[T], object], thing: T) -> None:
    try:
        release(thing)
    except Exception:
        log.exception("cleanup step failed; `vcbench gc` will retry it")
