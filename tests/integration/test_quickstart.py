"""The README's quick start, as written, on the distribution's own Python.

Stock Debian 12 and Ubuntu 24.04 refuse `pip install` into the system Python (PEP 668), so
the quick start uses the distribution's nox. This test takes the quick-start block out of
README.md, runs its install line as is, then its `nox -s bench` line in a fresh clone with a
stock PATH (so `nox` is Debian's, running on /usr/bin/python3) on a reduced suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.data.results import load_run
from tests.integration.conftest import unavailable

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
STOCK_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
REDUCED = ["--", "--suite", "tiny", "--platforms", "native,docker", "--quiet"]


def quick_start_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's quick start has no sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_block_is_what_this_test_runs() -> None:
    lines = quick_start_lines()
    assert lines[0] == "apt-get update && apt-get install -y nox"
    assert lines[1:] == ["nox -s bench", "nox -s tests"]
    assert "pip install" not in " ".join(lines)


def test_the_quick_start_runs_on_debians_own_python(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not Path("/usr/bin/python3").exists() or not shutil.which("apt-get"):
        unavailable("a Debian/Ubuntu root shell", "the quick start is for one")
    install, bench, _ = quick_start_lines()
    env = {
        "PATH": STOCK_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "VCBENCH_RESULTS": str(tmp_path / "results"),
        "DEBIAN_FRONTEND": "noninteractive",
    }
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "VCBENCH_LIBVIRT_URI"):
        if var in os.environ:
            env[var] = os.environ[var]
    done = subprocess.run(
        ["sh", "-c", install], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    nox = subprocess.run(["sh", "-c", "command -v nox"], env=env, capture_output=True, text=True)
    assert nox.stdout.strip() == "/usr/bin/nox", "the stock PATH must find the distribution's nox"

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    argv = ["sh", "-c", f'{bench} "$@"', "sh", *REDUCED]
    done = subprocess.run(
        argv, cwd=clone, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    venv_python = clone / ".nox" / "bench" / "bin" / "python"
    base = subprocess.run(
        [str(venv_python), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert base.stdout.strip() == "/usr", "nox must have used Debian's own /usr/bin/python3"
    runs = [p for p in (tmp_path / "results").iterdir() if (p / "run.json").exists()]
    assert len(runs) == 1
    run = load_run(runs[0])
    assert {t.status for t in run.trials} == {"ok"}
    assert {s.platform for s in run.samples} == {"native", "docker"}
