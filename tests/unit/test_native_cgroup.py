"""The native instance's memory cgroup on either hierarchy, on a fake cgroupfs: the limit is
written where the host keeps it, and no swap is allowed beyond it (as Docker does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.platforms import cgroup

MIB = 2**20


def _v2_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.subtree_control").write_text("cpu io memory pids\n")
    monkeypatch.setattr(cgroup, "V1_MEMORY", tmp_path / "no-v1-memory")
    monkeypatch.setattr(cgroup, "V2_ROOT", root)
    return root


def test_v2_is_used_when_there_is_no_v1_memory_hierarchy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _v2_root(tmp_path, monkeypatch)
    assert cgroup.memory_root() == (root, "memory.max")


def test_v2_without_the_memory_controller_gives_no_cgroup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _v2_root(tmp_path, monkeypatch)
    (root / "cgroup.subtree_control").write_text("cpu pids\n")
    assert cgroup.memory_root() is None
    assert cgroup.create("vcbench-x", 256) is None


def test_v2_writes_memory_max_and_forbids_swap_beyond_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _v2_root(tmp_path, monkeypatch)
    made = root / "vcbench-x"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self)
        if self == made:  # what the kernel puts in a new v2 directory
            (self / "memory.max").write_text("max\n")
            (self / "memory.swap.max").write_text("max\n")

    monkeypatch.setattr(Path, "mkdir", mkdir)
    memory = cgroup.create("vcbench-x", 256)
    assert memory == cgroup.MemoryCgroup(made, 256)
    assert (made / "memory.max").read_text() == str(256 * MIB)
    assert (made / "memory.swap.max").read_text() == "0"


def test_v2_oom_kills_come_from_memory_events(tmp_path: Path) -> None:
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    assert cgroup.oom_kills(tmp_path) == 1
