"""The regression check replayed on real data: identical short runs recorded back to back on a
2-core machine like CI's (native and docker, cpu-sysbench, memory-read and startup-warm, 5
repeats, TCG host), checked night after night as `vcbench run` would. Nothing changed between
them, so the check must never end one in exit 3; and it must have judged the later ones, not
only said it was learning."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.analysis.gate import DEFAULT
from bench.data.check_record import write_check
from bench.data.results import read_meta
from bench.report.regression_check import check_run, verdict_lines

REPLAY = Path(__file__).parents[1] / "fixtures" / "replay"


def _recorded() -> list[Path]:
    runs = [d for d in REPLAY.iterdir() if (d / "run.json").is_file()]
    return sorted(runs, key=lambda d: float(read_meta(d)["created"]))


def test_identical_runs_never_end_in_exit_3(tmp_path: Path) -> None:
    recorded = _recorded()
    assert len(recorded) >= DEFAULT.min_history + 2  # some runs are judged, some confirm
    results = tmp_path / "results"
    results.mkdir()
    judged = 0
    for index, source in enumerate(recorded):
        run_dir = results / source.name
        shutil.copytree(source, run_dir)
        record = check_run(run_dir, results)
        write_check(run_dir, record)
        lines = "\n".join(verdict_lines(record))
        assert not record.regressed, lines
        statuses = {f.status for f in record.figures}
        if index < DEFAULT.min_history:
            assert statuses == {"learning"}, lines
        else:
            assert "learning" not in statuses, lines
            judged += len(record.figures)
    assert judged >= 2 * 6  # two runs, six figures or more each
