"""The application workloads end to end on the real daemons, short: Redis, MariaDB OLTP,
nginx + wrk and hpcc on native, docker and both container network profiles (docker-nat,
docker-hostnet), each server inside the instance and the load generator on the host; and
servers that cannot start (their port taken, a broken config) recorded as failed trials
with their cause while the run goes on."""

from __future__ import annotations

import socket
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.core.workload import workloads_dir
from bench.data.results import RunData, load_run
from tests.integration.platform_support import built_images
from tests.support.runs import only_run, vcbench

pytestmark = pytest.mark.slow

APPS = ("app-redis-c10", "app-mariadb-oltp", "app-nginx-wrk", "app-hpcc")
PLATFORMS = ("native", "docker", "docker-nat", "docker-hostnet")
TAKEN_PORT = 16479


def _short(
    name: str, folder: Path, *, rename: str = "", edits: dict[str, str] | None = None
) -> Path:
    """A workload's file made short (fewer requests, a small table), optionally renamed and
    edited, in `folder`; the runner is handed its path."""
    text = (workloads_dir() / f"{name}.toml").read_text()
    for old, new in {
        "50000": "3000",
        "--table-size=10000": "--table-size=500",
        **(edits or {}),
    }.items():
        text = text.replace(old, new)
    if rename:
        text = text.replace(f'name = "{name}"', f'name = "{rename}"')
    path = folder / f"{rename or name}.toml"
    path.write_text(text)
    tomllib.loads(text)  # the edit kept it TOML
    return path


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """Something else already listening on the host at the port-taken workload's port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # loopback: docker-nat publishes its ports on its bridge address, which stays free
    sock.bind(("127.0.0.1", TAKEN_PORT))
    sock.listen()
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def apps_run(
    tmp_path_factory: pytest.TempPathFactory, listener: socket.socket, docker_client: Any
) -> tuple[subprocess.CompletedProcess[str], RunData]:
    built_images()
    folder = tmp_path_factory.mktemp("workloads")
    paths = [_short(name, folder) for name in APPS]
    # native shares the host's network: the port is taken there before the server starts
    paths.append(
        _short("app-redis-c10", folder, rename="app-redis-taken", edits={"16379": str(TAKEN_PORT)})
    )
    # a config nginx refuses: the server exits at once
    paths.append(
        _short(
            "app-nginx-wrk",
            folder,
            rename="app-nginx-broken",
            edits={"'pid /tmp/vcbench-nginx.pid;'": "'no_such_directive on;'"},
        )
    )
    root = tmp_path_factory.mktemp("results")
    picks = [arg for p in paths for arg in ("--workload", str(p))]
    done = vcbench(
        "run", *picks,
        "--platforms", ",".join(PLATFORMS),
        "--repeats", "1", "--warmups", "0", "--duration", "2",
        "--results", str(root), "--reports", str(tmp_path_factory.mktemp("reports")),
        "--quiet", "--no-compare", "--seed", "1",
        timeout=1800,
    )  # fmt: skip
    return done, load_run(only_run(root))


def test_every_app_measures_on_every_platform(
    apps_run: tuple[subprocess.CompletedProcess[str], RunData],
) -> None:
    _, run = apps_run
    status = {(t.workload, t.platform): t for t in run.trials}
    for name in APPS:
        for platform in PLATFORMS:
            trial = status[(name, platform)]
            assert trial.status == "ok", (name, platform, trial.cause, trial.error)
    values = {(s.workload, s.metric, s.platform): s.value for s in run.samples}
    for platform in PLATFORMS:
        assert values[("app-redis-c10", "get_rps", platform)] > 0
        assert values[("app-mariadb-oltp", "tps", platform)] > 0
        assert values[("app-nginx-wrk", "rps", platform)] > 0
        assert values[("app-hpcc", "hpl_gflops", platform)] > 0


def test_a_server_that_cannot_start_is_a_failed_trial_with_its_cause(
    apps_run: tuple[subprocess.CompletedProcess[str], RunData],
) -> None:
    done, run = apps_run
    trials = {(t.workload, t.platform): t for t in run.trials}
    taken = trials[("app-redis-taken", "native")]
    assert taken.status == "failed" and taken.cause == "server"
    assert f"port {TAKEN_PORT} is already taken" in taken.error
    # in its own network namespace, the bridge's container does not see the host's listener
    assert trials[("app-redis-taken", "docker")].status == "ok"
    for platform in PLATFORMS:
        broken = trials[("app-nginx-broken", platform)]
        assert broken.status == "failed" and broken.cause == "server", broken.error
        assert "the server exited" in broken.error and "no_such_directive" in broken.error
    # the run went on to its end (report written), and its exit code says trials failed
    assert done.returncode == 1, done.stderr[-2000:]
    assert "report: " in done.stderr
