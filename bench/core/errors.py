"""One error root: every expected failure is a BenchError that the CLI prints as one line."""

from __future__ import annotations


class BenchError(Exception):
    """An expected failure: what is wrong, and how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message.rstrip(".")
        return f"{text}; {self.hint}" if self.hint else text


class HostError(BenchError):
    """The host lacks something: a package, a daemon, a permission."""


class ImageError(BenchError):
    """Building or finding an image (rootfs, Docker image, VM disk) failed."""


class PlatformError(BenchError):
    """Starting, driving or tearing down an instance failed."""


class InstanceTimeout(PlatformError):
    """An instance or a command inside it did not finish within its time."""


class DaemonLost(PlatformError):
    """The daemon behind a platform (dockerd, libvirtd) stopped answering mid-run: every
    later call on that platform would fail the same way, so the runner drops it."""


class ResultsFull(BenchError):
    """The results directory's file system is full: the run stops, what it wrote is kept."""


def first_line(exc: BaseException) -> str:
    """A foreign exception's message fit for a one-line error (SDK errors span many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
