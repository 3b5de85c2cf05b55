"""Driving `vcbench run` as a user would: a subprocess, its results directory, its trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "bench.cli"]


def vcbench(
    *args: str, timeout: float = 900, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def sigint_as_at_a_terminal() -> None:
    """In the child before exec: SIGINT back to its default. A shell starts background jobs
    (`nohup ... &`) with SIGINT ignored, and Python keeps an ignored SIGINT ignored: the
    interrupt tests would then measure how the test was launched, not vcbench."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_vcbench(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """vcbench in its own session, so a signal sent to it reaches it alone."""
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        preexec_fn=sigint_as_at_a_terminal,
    )


def only_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if (p / "run.json").exists()]
    assert len(runs) == 1, runs
    return runs[0]


def trial_lines(root: Path) -> int:
    runs = [p for p in root.iterdir() if (p / "trials.jsonl").exists()] if root.exists() else []
    return len((runs[0] / "trials.jsonl").read_text().splitlines()) if runs else 0


def wait_for_trials(
    root: Path, child: subprocess.Popen[str], count: int, timeout: float = 300
) -> None:
    """Until the run has recorded count trials; fails at once if the run ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if trial_lines(root) >= count:
            return
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)
    pytest.fail(f"the run recorded fewer than {count} trial(s) within {timeout:g} s")
