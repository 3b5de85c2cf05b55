"""The layer contract (pyproject's [tool.importlinter]) holds, and fails on an upward import;
no two modules share a base name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_tree_keeps_every_contract(copy: Path) -> None:
    done = lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("analysis/leak.py", "from bench.platforms import registry", "import no platform"),
        ("report/leak.py", "from bench.run import runner", "imports only data and analysis"),
        ("core/leak.py", "from bench.data import results", "layers run downwards only"),
    ],
)
def test_an_upward_import_breaks_the_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    (copy / "bench" / module).write_text(f'"""A deliberate upward import."""\n\n{line}\n')
    done = lint_imports(copy)
    assert done.returncode != 0
    leak = "bench." + module.removesuffix(".py").replace("/", ".")
    assert leak in done.stdout and contract in done.stdout


def test_no_two_modules_share_a_base_name() -> None:
    names = Counter(
        p.name
        for p in (ROOT / "bench").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    assert [n for n, count in names.items() if count > 1] == []
