"""The regression check that ends `vcbench run`: which earlier run is the baseline, the verdict
lines, and exit 3 with the results path still the last line of stdout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli.compare import EXIT_REGRESSION
from bench.cli.run_session import Output, finish
from bench.data.results import Event, RunWriter, read_meta
from bench.report.baseline import NO_BASELINE, Candidate, judge, pick_baseline
from tests.unit.test_compare import fingerprint, make_run, noisy

DAY = 86_400.0
START = 1_790_000_000.0


def _finished(directory: Path) -> Path:
    RunWriter.reopen(directory).event(Event("finished", "the schedule is complete", at=1.0))
    return directory


def _run(root: Path, run_id: str, day: int, factor: float = 1.0, **kwargs: Any) -> Path:
    rng = np.random.default_rng(day)
    return make_run(
        root,
        run_id,
        {
            ("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000 * factor),
            ("cpu-sysbench", "events_per_s", "docker"): noisy(rng, 980),
        },
        created=START + day * DAY,
        **kwargs,
    )


def _candidate(directory: Path, finished: bool = True) -> Candidate:
    return Candidate(directory, read_meta(directory), finished)


def test_the_baseline_is_the_newest_earlier_finished_run_that_measured_the_same(
    tmp_path: Path,
) -> None:
    current = _run(tmp_path, "20260110-000000-cccccc", 10)
    same = [_run(tmp_path, f"2026010{d}-000000-aaaaaa", d) for d in (1, 2)]
    unlike = [
        _run(tmp_path, "20260103-000000-host", 3, host="other-host"),
        _run(tmp_path, "20260104-000000-accel", 4, accel="tcg"),
        _run(tmp_path, "20260105-000000-hash", 5, hashes={"cpu-sysbench": "changed"}),
        _run(tmp_path, "20260106-000000-kern", 6, fp=fingerprint(host_kernel="6.2.0")),
        _run(tmp_path, "20260111-000000-later", 11),  # after the current run
    ]
    unfinished = _run(tmp_path, "20260107-000000-intr", 7)
    pool = [_candidate(d) for d in (*same, *unlike)] + [_candidate(unfinished, finished=False)]
    chosen = pick_baseline(read_meta(current), pool)
    assert chosen is not None and chosen.directory == same[1]
    # Another suite is another measurement, even with the same workloads.
    meta = read_meta(current)
    other_suite = {**meta, "plan": {**meta["plan"], "suite": "other"}}
    assert pick_baseline(other_suite, pool) is None


def test_a_regression_is_named_and_flagged(tmp_path: Path) -> None:
    root = tmp_path / "results"
    baseline = _finished(_run(root, "20260101-000000-aaaaaa", 1))
    current = _finished(_run(root, "20260102-000000-bbbbbb", 2, factor=0.8))
    verdict = judge(current, root)
    assert verdict.baseline == baseline.name and verdict.regressed
    assert verdict.lines[0].startswith(f"regression check against {baseline.name}")
    assert "1 worse" in verdict.lines[0]
    assert any(line.startswith("  + cpu-sysbench events_per_s native:") for line in verdict.lines)
    assert "REGRESSION" in verdict.lines[-1]


def test_no_change_or_no_baseline_is_no_regression(tmp_path: Path) -> None:
    root = tmp_path / "results"
    first = _finished(_run(root, "20260101-000000-aaaaaa", 1))
    assert judge(first, root).lines == (NO_BASELINE,)
    second = _finished(_run(root, "20260102-000000-bbbbbb", 2))
    verdict = judge(second, root)
    assert verdict.baseline == first.name and not verdict.regressed
    assert "0 worse" in verdict.lines[0]


def test_an_unreadable_neighbour_is_no_baseline(tmp_path: Path) -> None:
    root = tmp_path / "results"
    broken = root / "20260101-000000-broken"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{not json")
    current = _finished(_run(root, "20260102-000000-bbbbbb", 2))
    assert judge(current, root).lines == (NO_BASELINE,)


def _finish_and_capture(
    directory: Path, root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], **kw: Any
) -> tuple[int, list[str], str]:
    out = Output(quiet=True, as_json=False, results=root, reports=tmp_path / "reports", **kw)
    code = 0
    try:
        finish(directory, out)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_run_ends_with_exit_3_on_a_regression_and_the_path_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    _finished(_run(root, "20260101-000000-aaaaaa", 1))
    current = _finished(_run(root, "20260102-000000-bbbbbb", 2, factor=0.8))
    code, lines, _ = _finish_and_capture(current, root, tmp_path, capsys)
    assert code == EXIT_REGRESSION
    assert lines[-1] == str(current)
    assert any(line.startswith("REGRESSION") for line in lines)
    assert (tmp_path / "reports" / current.name / "index.html").is_file()

    code, lines, _ = _finish_and_capture(current, root, tmp_path, capsys, compare=False)
    assert code == 0 and lines[-1] == str(current)
    assert not any("regression check" in line for line in lines)


def test_run_with_no_predecessor_says_so_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    current = _finished(_run(root, "20260102-000000-bbbbbb", 2))
    code, lines, _ = _finish_and_capture(current, root, tmp_path, capsys)
    assert code == 0 and lines[-1] == str(current)
    assert NO_BASELINE in lines


def test_json_mode_keeps_the_verdict_off_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    current = _finished(_run(root, "20260102-000000-bbbbbb", 2))
    out = Output(quiet=False, as_json=True, results=root, reports=tmp_path / "reports")
    finish(current, out)
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(current)]
    assert NO_BASELINE in captured.err


def test_too_few_repeats_say_the_gate_is_not_armed_never_a_silent_pass(tmp_path: Path) -> None:
    root = tmp_path / "results"
    rng = np.random.default_rng(0)

    def three(run_id: str, day: int, factor: float) -> Path:
        figures = {("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000 * factor, n=3)}
        return _finished(make_run(root, run_id, figures, created=START + day * DAY))

    three("20260101-000000-aaaaaa", 1, 1.0)
    halved = judge(three("20260102-000000-bbbbbb", 2, 0.5), root)
    assert not halved.regressed  # halved, yet three repeats cannot show it...
    assert any(  # ...and the check says so instead of passing in silence
        line.startswith("gate not armed for 1 of 1 figures") and "too few repeats (n=3;" in line
        for line in halved.lines
    )
