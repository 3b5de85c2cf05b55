"""Results: versioned, append-only, never overwritten, readable after a torn write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.data.results import (
    SAMPLES,
    SCHEMA_VERSION,
    Event,
    ExperimentRecord,
    ResultsError,
    RunWriter,
    Sample,
    Trial,
    find_run,
    load_run,
    samples_frame,
)


def trial(tid: str, status: str = "ok") -> Trial:
    return Trial(tid, 0, "w", "h", "native", False, status, 1.0, 2.0, "i", "host")  # type: ignore[arg-type]


def sample(tid: str, value: float) -> Sample:
    return Sample(tid, 0, "w", "h", "native", False, "m", value, "u", True, 1.0, 2.0, "i", "host")


def test_written_trials_read_back_and_the_run_is_never_overwritten(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    writer = RunWriter.create(run, {"run_id": "r1"})
    writer.record_trial(trial("t1"), [sample("t1", 1.5)], [{"trial_id": "t1", "t": 0.1}])
    writer.event(Event("warning", "busy", "advice"))
    data = load_run(run)
    assert data.meta["schema_version"] == SCHEMA_VERSION
    assert [s.value for s in data.samples] == [1.5] and data.done() == {"t1"}
    assert data.events[0].message == "busy"
    assert list(samples_frame(data)["value"]) == [1.5]
    with pytest.raises(ResultsError, match="holds a run already"):
        RunWriter.create(run, {"run_id": "r1"})


def test_a_torn_last_line_is_skipped_with_a_warning_and_its_trial_is_not_done(
    tmp_path: Path,
) -> None:
    run = tmp_path / "r"
    writer = RunWriter.create(run, {"run_id": "r"})
    writer.record_trial(trial("t1"), [sample("t1", 1.0)], [])
    with (run / SAMPLES).open("a") as out:  # a crash after the samples of t2, mid-line
        out.write(json.dumps(sample("t2", 2.0).__dict__) + "\n" + '{"trial_id": "t2", "val')
    data = load_run(run)
    assert data.done() == {"t1"}
    assert [s.trial_id for s in data.samples] == ["t1"]
    assert any("corrupt" in w for w in data.warnings)
    assert any("unfinished trial" in w for w in data.warnings)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1", None])
def test_unknown_schema_versions_are_refused_saying_what_to_do(
    tmp_path: Path, version: object
) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"schema_version": version}))
    with pytest.raises(ResultsError, match="schema version") as info:
        load_run(run)
    assert info.value.hint


def test_find_run_by_prefix_and_errors(tmp_path: Path) -> None:
    for name in ("20260101-000000-aaaaaa", "20260101-000000-aaabbb", "20260102-000000-cccccc"):
        RunWriter.create(tmp_path / name, {"run_id": name})
    assert find_run("20260102", tmp_path).name == "20260102-000000-cccccc"
    with pytest.raises(ResultsError, match="matches 2 runs"):
        find_run("20260101-000000-aaa", tmp_path)
    with pytest.raises(ResultsError, match="no run"):
        find_run("1999", tmp_path)


def test_a_results_path_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ResultsError, match="is a file"):
        RunWriter.create(tmp_path / "file" / "r", {"run_id": "r"})


def test_experiment_records_read_back_text_and_detail_included(tmp_path: Path) -> None:
    writer = RunWriter.create(tmp_path / "r", {"run_id": "r"})
    kernel = ExperimentRecord("kernel", "docker", "uname-r", None, "", text="6.1.0")
    size = ExperimentRecord("image-size", "libvirt", "total-bytes", 4.2e9, "B", detail={"k": 1})
    writer.record_experiment([kernel, size])
    assert load_run(tmp_path / "r").experiments == (kernel, size)
