"""Where things go (system-wide as root, XDG otherwise), shared dirs, atomic_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.core import paths
from bench.core.paths import atomic_path, shared_dir


@pytest.fixture
def no_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.usefixtures("no_xdg")
def test_root_keeps_things_where_qemu_s_user_and_other_callers_reach_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paths, "is_root", lambda: True)
    assert paths.cache_dir() == Path("/var/cache/vcbench")
    assert paths.state_dir() == Path("/var/lib/vcbench")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/0")  # a login session's, ignored
    assert paths.runtime_dir() == paths.SYSTEM_RUNTIME


@pytest.mark.usefixtures("no_xdg")
def test_others_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "is_root", lambda: False)
    home = tmp_path / "home"
    assert paths.cache_dir() == home / ".cache/vcbench"
    assert paths.state_dir() == home / ".local/state/vcbench"
    assert paths.runtime_dir() == home / ".local/state/vcbench/run"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert paths.runtime_dir() == Path("/run/user/1000/vcbench")


@pytest.mark.parametrize("root", [True, False])
def test_an_explicit_xdg_dir_wins(monkeypatch: pytest.MonkeyPatch, root: bool) -> None:
    monkeypatch.setattr(paths, "is_root", lambda: root)
    monkeypatch.setenv("XDG_CACHE_HOME", "/elsewhere/cache")
    monkeypatch.setenv("XDG_STATE_HOME", "/elsewhere/state")
    assert paths.cache_dir() == Path("/elsewhere/cache/vcbench")
    assert paths.state_dir() == Path("/elsewhere/state/vcbench")


def test_shared_dirs_ignore_a_strict_umask(tmp_path: Path) -> None:
    tmp_path.chmod(0o711)
    old = os.umask(0o077)
    try:
        made = shared_dir(tmp_path / "a" / "b", 0o1777)
    finally:
        os.umask(old)
    assert made.stat().st_mode & 0o7777 == 0o1777
    assert made.parent.stat().st_mode & 0o7777 == 0o755
    assert tmp_path.stat().st_mode & 0o7777 == 0o711  # what existed is left as it was


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
