"""Processes vcbench tagged through their environment (VCBENCH_RUN, VCBENCH_INSTANCE).

A native instance's commands run as plain host processes; a daemon one of them started can
outlive both the command and the keeper. The tag in its inherited environment finds it.
"""

from __future__ import annotations

import os

import psutil

RUN_VAR = "VCBENCH_RUN"
INSTANCE_VAR = "VCBENCH_INSTANCE"


def tagged(var: str) -> dict[str, list[psutil.Process]]:
    """Tag value -> processes carrying it, ourselves excluded."""
    found: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        try:
            value = proc.environ().get(var)
        except psutil.Error:
            continue
        if value and proc.pid != os.getpid():
            found.setdefault(value, []).append(proc)
    return found


def kill(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.kill()
            proc.wait(5)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            pass  # a zombie of someone else's: the kill went through all the same
