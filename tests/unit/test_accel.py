"""The accel verdict: device checks, the cache per host boot, the marker reader on processes."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from bench.host import accel


def test_missing_device_means_tcg_with_reason(tmp_path: Path) -> None:
    assert "does not exist" in accel.device_problem(tmp_path / "kvm")


def test_unopenable_device_is_reported(tmp_path: Path) -> None:
    device = tmp_path / "kvm"
    device.mkdir()  # opening a directory O_RDWR fails, like a device without permission
    assert "cannot be opened" in accel.device_problem(device)


def test_cache_is_per_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(accel.paths, "boot_id", lambda: "boot-a")
    result = accel.AccelResult("tcg", "no kvm", "boot-a", tcg_boot_s=4.2)
    accel._write_cache(result)
    assert accel.cached() == result
    monkeypatch.setattr(accel.paths, "boot_id", lambda: "boot-b")
    assert accel.cached() is None


def test_corrupt_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    accel._cache_file().parent.mkdir(parents=True)
    accel._cache_file().write_text("{not json")
    assert accel.cached() is None


def _fake_qemu(tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in emulator binary on PATH: exercises the reader, not the verdict."""
    exe = tmp_path / "bin" / accel.QEMU
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n{script}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin:/bin")


def test_marker_is_found_in_split_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(
        tmp_path,
        "import sys,time\nsys.stdout.write('boot VCBENCH-PRO'); sys.stdout.flush()"
        "\ntime.sleep(0.2); print('BE-OK'); sys.stdout.flush(); time.sleep(30)",
        monkeypatch,
    )
    seconds = accel.boot_to_marker("kvm", tmp_path, tmp_path, 10)
    # the marker's second half comes after the script's 0.2 s sleep, and before the deadline
    assert seconds is not None and 0.2 <= seconds < 10, seconds


def test_hang_hits_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(
        tmp_path, "import time; print('Probing EDD', flush=True); time.sleep(30)", monkeypatch
    )
    assert accel.boot_to_marker("kvm", tmp_path, tmp_path, 0.5) is None


def test_early_exit_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(tmp_path, "import sys; print('failed to set MSR 0x10a'); sys.exit(1)", monkeypatch)
    assert accel.boot_to_marker("kvm", tmp_path, tmp_path, 10) is None
