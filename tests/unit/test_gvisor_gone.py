"""When a gVisor sandbox counts as gone: dockerd says it stopped, or the sandbox's own
process has exited (dead or a zombie) before dockerd heard of it."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.platforms.gvisor import sandbox_gone


def running(pid: int) -> dict[str, object]:
    return {"Running": True, "Status": "running", "Pid": pid}


def test_dockerds_word_that_it_stopped_is_enough() -> None:
    assert sandbox_gone({"Running": False, "Status": "exited", "Pid": 0})
    assert not sandbox_gone(running(os.getpid()))
    assert not sandbox_gone(running(0))  # no pid to look at: dockerd's "running" stands


def test_a_sandbox_process_that_exited_is_gone_though_dockerd_says_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: no such process
    assert sandbox_gone(running(child.pid))


def test_a_zombie_sandbox_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
        assert sandbox_gone(running(child.pid))
    finally:
        child.wait()
