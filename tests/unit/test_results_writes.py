"""Writes that fail halfway (a full disk) take nothing written before with them, and a run
reopened after a crash mid-write cuts the torn last line off before appending."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bench.core.errors import ResultsFull
from bench.data.results import Event, RunWriter, load_run


def writer(tmp_path: Path) -> RunWriter:
    return RunWriter.create(tmp_path / "run", {"run_id": "20260101-000000-abcdef"})


def test_a_full_disk_mid_line_leaves_no_torn_line_and_names_the_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = writer(tmp_path)
    out.event(Event("warning", "before the disk filled"))
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 8:
            return real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(ResultsFull) as full:
        out.event(Event("warning", "x" * 100))
    monkeypatch.undo()
    assert "no space left for" in full.value.message and "KiB free" in full.value.message
    assert "events.jsonl" in full.value.message and "--resume" in full.value.hint
    run = load_run(out.dir)
    assert [e.message for e in run.events] == ["before the disk filled"] and not run.warnings


def test_reopening_cuts_a_torn_last_line_so_the_next_one_stays_whole(tmp_path: Path) -> None:
    out = writer(tmp_path)
    out.event(Event("warning", "whole"))
    with (out.dir / "events.jsonl").open("ab") as events:
        events.write(b'{"kind": "warn')  # the crash
    assert load_run(out.dir).warnings  # the reader skips it, with a warning
    RunWriter.reopen(out.dir).event(Event("resumed", "after the crash"))
    run = load_run(out.dir)
    assert [e.message for e in run.events] == ["whole", "after the crash"]
    assert not run.warnings
