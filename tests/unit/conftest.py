"""Unit tests never write the host-wide runtime directory (/run/vcbench as root): run owner
records go to a directory of the test's own, so tests and real runs cannot see each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core import paths


@pytest.fixture(autouse=True)
def private_runtime_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    runtime = tmp_path_factory.mktemp("run")
    monkeypatch.setattr(paths, "SYSTEM_RUNTIME", runtime)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return runtime
