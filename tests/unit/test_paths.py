"""atomic_path: all or nothing, and no leftovers either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.paths import atomic_path


def test_success_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
