"""The results directory's file system fills up mid-run (a small tmpfs made by the test): the
run stops with one line naming the path and the free space, every trial recorded before is
intact (no torn line), and every instance, network and mount the run started is removed."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import Runs, one_line_error
from tests.support.runs import only_run, trial_lines, wait_for_trials


@pytest.fixture
def small_results(runs: Runs) -> Iterator[Path]:
    runs.root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "vcbench-test", runs.root], check=True)
    try:
        yield runs.root
    finally:
        subprocess.run(["umount", "-l", runs.root], check=True)


def fill(directory: Path) -> None:
    """Write until the file system says it is full."""
    chunk = b"\0" * 65536
    with (directory / "filler").open("wb", buffering=0) as filler:
        with contextlib.suppress(OSError):
            while True:
                filler.write(chunk)
        with pytest.raises(OSError) as full:
            filler.write(chunk)
    assert full.value.errno == errno.ENOSPC


def test_a_full_results_file_system_stops_the_run_cleanly(runs: Runs, small_results: Path) -> None:
    child = runs.start("--workload", "fault-ok", "--workload", "fault-slow", "--repeats", "3")
    wait_for_trials(small_results, child, 2)
    fill(small_results)
    recorded = trial_lines(small_results)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 2, err[-3000:]
    line = one_line_error(err)
    assert "no space left for" in line and str(small_results) in line and "KiB free" in line
    run = runs.only()
    assert not run.warnings  # nothing torn: every line written before is whole
    assert len(run.trials) >= recorded >= 2
    assert {t.status for t in run.trials} == {"ok"}
    assert only_run(small_results) == run.directory
