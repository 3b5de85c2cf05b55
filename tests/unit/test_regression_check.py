"""The run-level regression check that ends `vcbench run`: which earlier runs are the history,
learning before there are enough, suspects shown but never acted on, exit 3 only once fresh
runs confirm a change, and the results path still the last line of stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli.compare import EXIT_REGRESSION
from bench.cli.run_session import Output, finish
from bench.data.check_record import CHECK_FILE, CONFIRMS, read_check, write_check
from bench.data.results import Event, ResultsError, RunWriter, load_run, read_meta
from bench.report.export import serialize
from bench.report.regression_check import (
    Candidate,
    check_run,
    comparable_before,
    verdict_lines,
)
from tests.unit.test_compare import fingerprint, make_run, noisy

DAY = 86_400.0
START = 1_790_000_000.0
NATIVE = ("cpu-sysbench", "events_per_s", "native")
DOCKER = ("cpu-sysbench", "events_per_s", "docker")


def _finished(directory: Path, busy: bool = False) -> Path:
    writer = RunWriter.reopen(directory)
    if busy:
        data = {"code": "busy-host"}
        writer.event(Event("warning", "busy host: load 3.2", "stop other work", 1.0, data))
    writer.event(Event("finished", "the schedule is complete", at=1.0))
    return directory


def _run(root: Path, day: int, factor: float = 1.0, **kwargs: Any) -> Path:
    """A run on `day` whose native throughput is `factor` times the usual, with a run effect
    of 1% drawn per run (the noise between runs the check must learn)."""
    rng = np.random.default_rng(day)
    effect = float(np.exp(rng.normal(0.0, 0.01)))
    run_id = kwargs.pop("run_id", f"202601{day:02d}-000000-{day:06d}")
    busy = kwargs.pop("busy", False)
    directory = make_run(
        root,
        run_id,
        {
            NATIVE: noisy(rng, 1000 * factor * effect, n=8),
            DOCKER: noisy(rng, 980 * effect, n=8),
        },
        created=START + day * DAY,
        **kwargs,
    )
    return _finished(directory, busy)


def _history(root: Path, days: int) -> list[Path]:
    return [_run(root, d) for d in range(1, days + 1)]


def _candidate(directory: Path, finished: bool = True) -> Candidate:
    return Candidate(directory, read_meta(directory), finished)


def test_the_history_is_the_earlier_finished_runs_that_measured_the_same(tmp_path: Path) -> None:
    current = _run(tmp_path, 10)
    same = [_run(tmp_path, d) for d in (1, 2)]
    unlike = [
        _run(tmp_path, 3, host="other-host"),
        _run(tmp_path, 4, accel="tcg"),
        _run(tmp_path, 5, hashes={"cpu-sysbench": "changed"}),
        _run(tmp_path, 6, fp=fingerprint(host_kernel="6.2.0")),
        _run(tmp_path, 11),  # after the current run
    ]
    unfinished = _run(tmp_path, 7)
    confirming = _run(tmp_path, 8)
    meta = json.loads((confirming / "run.json").read_text())
    meta[CONFIRMS] = {"run_id": "x", "replicate": 1}
    (confirming / "run.json").write_text(json.dumps(meta))
    pool = [_candidate(d) for d in (*same, *unlike, confirming)]
    pool.append(_candidate(unfinished, finished=False))
    chosen = comparable_before(read_meta(current), pool)
    assert [c.directory for c in chosen] == same  # oldest first; no confirmation run
    other_suite = {**read_meta(current), "plan": {**read_meta(current)["plan"], "suite": "o"}}
    assert comparable_before(other_suite, pool) == []


def test_with_too_few_earlier_runs_it_says_it_is_learning_never_a_silent_pass(
    tmp_path: Path,
) -> None:
    _history(tmp_path, 2)
    current = _run(tmp_path, 3, factor=0.5)  # halved, yet nothing to judge it against
    record = check_run(current, tmp_path)
    assert {f.status for f in record.figures} == {"learning"}
    assert not record.regressed
    lines = verdict_lines(record)
    assert (
        "still learning this host's noise between runs: 2 comparable earlier run(s), 4 more"
        in (lines[1])
    )
    assert lines[-1].startswith("no regression can be called until")


def test_a_step_is_a_suspect_first_and_a_regression_only_once_the_next_run_confirms(
    tmp_path: Path,
) -> None:
    _history(tmp_path, 8)
    tonight = _run(tmp_path, 9, factor=0.8)
    record = check_run(tonight, tmp_path)
    by_key = {f.key: f for f in record.figures}
    assert by_key[NATIVE].status == "suspect" and by_key[NATIVE].change > 0.15
    assert by_key[DOCKER].status == "in range"
    assert not record.regressed  # a suspect alone never ends a night in exit 3
    write_check(tonight, record)
    tomorrow = _run(tmp_path, 10, factor=0.8)
    confirmed = check_run(tomorrow, tmp_path)
    [c] = confirmed.confirmations
    assert (c.of_run, c.key, c.status) == (tonight.name, NATIVE, "confirmed") and c.worse
    assert confirmed.regressed
    assert verdict_lines(confirmed)[-1].startswith("REGRESSION: 1 figure(s) confirmed worse")
    # Tomorrow's own figure is a suspect too, but it is the change just called: not carried,
    # so the night after does not raise the same alarm again.
    assert {f.key: f.status for f in confirmed.figures}[NATIVE] == "suspect"
    assert confirmed.open_suspects == ()


def test_a_suspect_that_the_next_run_does_not_repeat_is_cleared(tmp_path: Path) -> None:
    _history(tmp_path, 8)
    tonight = _run(tmp_path, 9, factor=0.8)
    write_check(tonight, check_run(tonight, tmp_path))
    record = check_run(_run(tmp_path, 10), tmp_path)
    [c] = record.confirmations
    assert c.status == "not confirmed" and not record.regressed


def test_confirmation_runs_in_the_same_job_settle_the_suspects(tmp_path: Path) -> None:
    _history(tmp_path, 8)
    tonight = _run(tmp_path, 9, factor=0.8)
    fresh = [_run(tmp_path, 20 + i, factor=0.8) for i in range(5)]
    for directory in fresh:
        meta = read_meta(directory)
        meta[CONFIRMS] = {"run_id": tonight.name, "replicate": 1}
        (directory / "run.json").write_text(json.dumps(meta))
    record = check_run(tonight, tmp_path, fresh)
    assert record.regressed and record.confirm_runs == tuple(d.name for d in fresh)
    assert {f.key: f.status for f in record.figures}[NATIVE] == "confirmed"
    assert not record.open_suspects  # settled tonight: nothing carried to the next run


def test_a_busy_run_joins_no_history(tmp_path: Path) -> None:
    _history(tmp_path, 5)
    _run(tmp_path, 6, busy=True)
    record = check_run(_run(tmp_path, 7), tmp_path)
    assert {f.n_history for f in record.figures} == {5}
    assert {f.status for f in record.figures} == {"learning"}


def test_a_confirmed_change_starts_the_figures_history_anew(tmp_path: Path) -> None:
    _history(tmp_path, 8)
    tonight = _run(tmp_path, 9, factor=0.8)
    write_check(tonight, check_run(tonight, tmp_path))
    tomorrow = _run(tmp_path, 10, factor=0.8)
    write_check(tomorrow, check_run(tomorrow, tmp_path))
    after = check_run(_run(tmp_path, 11, factor=0.8), tmp_path)
    by_key = {f.key: f for f in after.figures}
    assert by_key[NATIVE].n_history == 2  # the step's night and the one after: learning anew
    assert by_key[NATIVE].status == "learning" and not after.regressed
    assert by_key[DOCKER].n_history == 10


def test_the_record_is_versioned(tmp_path: Path) -> None:
    _history(tmp_path, 1)
    current = _run(tmp_path, 2)
    write_check(current, check_run(current, tmp_path))
    assert read_check(current) is not None
    data = json.loads((current / CHECK_FILE).read_text())
    (current / CHECK_FILE).write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(ResultsError, match="check record version 99"):
        read_check(current)


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


def test_run_ends_with_exit_3_on_a_confirmed_regression_and_the_path_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    _history(root, 8)
    tonight = _run(root, 9, factor=0.8)
    code, lines, _ = _finish_and_capture(tonight, root, tmp_path, capsys)
    assert code == 0 and lines[-1] == str(tonight)  # a suspect: shown, not acted on
    assert any("1 suspect(s), shown, not acted on" in line for line in lines)
    assert read_check(tonight) is not None  # stored for the report and the next night

    tomorrow = _run(root, 10, factor=0.8)
    code, lines, _ = _finish_and_capture(tomorrow, root, tmp_path, capsys)
    assert code == EXIT_REGRESSION
    assert lines[-1] == str(tomorrow)
    assert any(line.startswith("REGRESSION") for line in lines)
    page = (tmp_path / "reports" / tomorrow.name / "index.html").read_text()
    assert "Against this host's history" in page and "confirmed (suspect of" in page
    assert "quiet nights ending in exit 3, with --confirm" in page  # the Method section's rates
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "1 confirmed worse" in index and "1 suspect(s)" in index
    markdown = serialize(load_run(tomorrow), "markdown").decode()
    assert "### Against this host's history" in markdown and "**REGRESSION:**" in markdown

    code, lines, _ = _finish_and_capture(tomorrow, root, tmp_path, capsys, compare=False)
    assert code == 0 and lines[-1] == str(tomorrow)
    assert not any("regression check" in line for line in lines)


def test_json_mode_keeps_the_verdict_off_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "results"
    current = _run(root, 2)
    out = Output(quiet=False, as_json=True, results=root, reports=tmp_path / "reports")
    finish(current, out)
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(current)]
    assert "still learning this host's noise" in captured.err
