"""The fault-injection tier: one fault injected into a real run on the real daemons per test.

Every test here ends with the same checks: the run's finished trials are still readable, and
nothing is left behind (what `vcbench gc --dry-run` would find, alive or not: containers,
domains, networks, processes, cgroups, mounts, work dirs). The workloads are tiny TOML files
in tests/faults/workloads, found through VCBENCH_WORKLOADS like any user's own directory.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.data.results import RunData, load_run
from bench.platforms import gc
from tests.integration.conftest import connect_docker, connect_libvirt
from tests.integration.platform_support import built_images
from tests.support.runs import only_run, start_vcbench, vcbench, wait_for_trials

WORKLOADS = Path(__file__).parent / "workloads"
ENV = {"VCBENCH_WORKLOADS": str(WORKLOADS)}
# Small instances, so that even three platforms and a VM under TCG stay within seconds.
SMALL = ("--vcpus", "1", "--memory", "256", "--quiet", "--seed", "1", "--no-compare")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: injects a fault into a run on the real daemons")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


def everything_left(docker: Any, conn: Any) -> set[str]:
    """All that `vcbench gc` would look at, of live runs too: nothing must remain."""
    return {item.describe() for item in gc.find(docker, conn, include_alive=True).found}


# Per test, not per session: these tests restart the daemons, which ends every connection.
@pytest.fixture
def docker_client() -> Iterator[Any]:
    client = connect_docker()
    yield client
    client.close()


@pytest.fixture
def libvirt_conn() -> Iterator[Any]:
    conn = connect_libvirt()
    yield conn
    with contextlib.suppress(Exception):
        conn.close()


@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    built_images()
    docker, conn = connect_docker(), connect_libvirt()
    before = everything_left(docker, conn)
    docker.close()
    conn.close()
    yield
    docker, conn = (
        connect_docker(),
        connect_libvirt(),
    )  # afresh: the test may have restarted the daemons
    try:
        left = everything_left(docker, conn) - before
    finally:
        docker.close()
        conn.close()
    assert not left, f"left behind: {sorted(left)}"


@dataclass
class Runs:
    """One test's results and reports roots, and `vcbench run` on them."""

    root: Path
    reports: Path

    def args(self, *args: str) -> list[str]:
        return ["run", *args, "--results", str(self.root), "--reports", str(self.reports)]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return vcbench(*self.args(*SMALL, *args), timeout=timeout, env=ENV)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return start_vcbench(*self.args(*SMALL, *args), env=ENV)

    def resume(self, run_id: str) -> subprocess.CompletedProcess[str]:
        return vcbench(*self.args("--resume", run_id, "--quiet"), timeout=600, env=ENV)

    def only(self) -> RunData:
        return load_run(only_run(self.root))


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    return Runs(tmp_path / "results", tmp_path / "reports")


def sigkilled_run(runs: Runs) -> Path:
    """A run on native and docker SIGKILLed after its third trial (no cleanup could run):
    its directory. Its container, processes and overlays are left running."""
    child = runs.start(
        "--workload", "fault-ok", "--workload", "fault-slow", "--repeats", "2",
        "--platforms", "native,docker",
    )  # fmt: skip
    wait_for_trials(runs.root, child, 3)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return only_run(runs.root)


def by_workload(run: RunData, workload: str) -> dict[str, Any]:
    """The measured trials of one workload, by platform (one round)."""
    return {t.platform: t for t in run.trials if t.workload == workload and not t.warmup}


def failed_then_replaced(runs: Runs, fault: str, cause: str, error: str) -> dict[str, Any]:
    """Run the fault workload then a good one on every platform: the fault's trial fails with
    its cause and error everywhere, and the good trial runs ok on a fresh instance. The
    fault's trials, by platform, for the caller's own checks."""
    done = runs.run("--workload", fault, "--workload", "fault-ok")
    assert done.returncode == 1, done.stderr[-2000:]
    run = runs.only()
    assert not run.warnings
    failed, ok = by_workload(run, fault), by_workload(run, "fault-ok")
    for platform in ("native", "docker", "libvirt"):
        trial = failed[platform]
        assert (trial.status, trial.cause) == ("failed", cause), trial
        assert error in trial.error
        assert ok[platform].status == "ok", ok[platform]
        assert ok[platform].instance != trial.instance  # a fresh instance after the fault
    return failed


def one_line_error(stderr: str) -> str:
    """The single error line of a command that failed cleanly (no traceback anywhere)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("vcbench: error:")]
    assert len(errors) == 1, stderr
    return errors[0]
