"""The regression check replayed on real data: identical short runs recorded back to back on a
2-core machine like CI's (native and docker; cpu-sysbench, memory-read and startup-warm; 5
repeats), each checked in turn as `vcbench run` checks it. Nothing changed between them, so
no run may end in exit 3.

With the shipped policy the check is still learning after so few runs, and must say so on
every run, never pass in silence. With a history of two runs allowed, the same statistics
judge the later runs on this real noise between runs (screen, then the next run confirms),
and still must not call a regression.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bench.analysis.gate import DEFAULT, Policy
from bench.data.check_record import write_check
from bench.data.results import read_meta
from bench.report.regression_check import check_run, verdict_lines

REPLAY = Path(__file__).parents[1] / "fixtures" / "replay"
SHORT: Policy = dataclasses.replace(DEFAULT, min_history=2)


def _recorded() -> list[Path]:
    runs = [d for d in REPLAY.iterdir() if (d / "run.json").is_file()]
    return sorted(runs, key=lambda d: float(read_meta(d)["created"]))


@pytest.mark.parametrize("policy", [DEFAULT, SHORT], ids=["shipped", "history-of-2"])
def test_identical_runs_never_end_in_exit_3(tmp_path: Path, policy: Policy) -> None:
    recorded = _recorded()
    assert len(recorded) >= 4
    results = tmp_path / "results"
    results.mkdir()
    judged = 0
    for index, source in enumerate(recorded):
        run_dir = results / source.name
        shutil.copytree(source, run_dir)
        record = check_run(run_dir, results, policy=policy)
        write_check(run_dir, record)
        text = "\n".join(verdict_lines(record, policy))
        assert not record.regressed, text
        statuses = {f.status for f in record.figures}
        assert len(record.figures) >= 6, text  # three workloads on two platforms
        if index < policy.min_history:
            assert statuses == {"learning"}, text
            assert "still learning this host's noise between runs" in text  # never silent
        else:
            assert "learning" not in statuses, text
            judged += 1
    assert judged == max(0, len(recorded) - policy.min_history)
