"""gvisor and podman without their daemons: registration, availability, command lines, gc."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.core import podman_cli
from bench.core.errors import BenchError
from bench.host import availability, runsc, setup
from bench.platforms import gc, podman
from bench.platforms.gvisor import GvisorPlatform, accel_of
from bench.platforms.protocol import KEEPER, Limits
from tests.unit.test_bad_input import home, one_line_exit_2  # noqa: F401 - fixture

CHOICE = runsc.RunscChoice("ptrace", "host", "ptrace (systrap, kvm: did not run here)")


# --- runsc in daemon.json -------------------------------------------------------------------


def test_registering_runsc_keeps_every_other_key_and_runtime(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    existing = {"log-level": "warn", "runtimes": {"kata": {"path": "/usr/bin/kata"}}}
    path.write_text(json.dumps(existing))
    runsc.write_config(runsc.with_runtime(runsc.read_config(path), "/usr/bin/runsc", CHOICE), path)
    written = json.loads(path.read_text())
    assert written["log-level"] == "warn"
    assert written["runtimes"]["kata"] == {"path": "/usr/bin/kata"}
    assert written["runtimes"]["runsc"] == {
        "path": "/usr/bin/runsc",
        "runtimeArgs": ["--platform=ptrace", "--network=host"],
    }
    assert runsc.runtime_flags(runsc.registered(path)) == {"platform": "ptrace", "network": "host"}


def test_register_changes_nothing_when_runsc_is_there_or_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "daemon.json"
    mine = {"runtimes": {"runsc": {"path": "/opt/runsc", "runtimeArgs": ["--platform=kvm"]}}}
    path.write_text(json.dumps(mine))
    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    monkeypatch.setattr(runsc, "probe", lambda _: pytest.fail("probed although registered"))
    before = path.stat().st_mtime_ns
    assert runsc.register(path) is None
    assert path.stat().st_mtime_ns == before  # not even rewritten: dockerd is not reloaded
    monkeypatch.setattr(runsc, "binary", lambda: None)
    assert runsc.register(tmp_path / "absent.json") is None
    assert not (tmp_path / "absent.json").exists()


def test_register_adds_runsc_and_says_what_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "daemon.json"
    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    monkeypatch.setattr(runsc, "probe", lambda _: CHOICE)
    line = runsc.register(path)
    assert line is not None and "--platform=ptrace --network=host" in line
    assert runsc.registered(path) is not None


def test_the_probe_falls_back_to_ptrace_and_the_host_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[tuple[str, ...]] = []

    def works(_: str, *args: str) -> bool:
        tried.append(args)
        return args == ("--platform=ptrace", "--network=none")  # netstack refused here

    monkeypatch.setattr(runsc, "_works", works)
    choice = runsc.probe("/usr/bin/runsc")
    assert (choice.platform, choice.network) == ("ptrace", "host")
    assert "refuses netstack" in choice.reason
    assert tried[0] == ("--platform=systrap", "--network=none")


def test_a_bad_daemon_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text("{not json")
    with pytest.raises(BenchError, match="is not valid JSON"):
        runsc.registered(path)


def test_setup_plans_the_registration_only_when_runsc_is_missing_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(setup, "missing_packages", lambda _: [])
    monkeypatch.setattr(setup.kvm, "needs_fix", lambda: False)
    monkeypatch.setattr(setup.daemons, "answers", lambda _: True)
    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    monkeypatch.setattr(runsc, "registered", lambda: None)
    todo = setup.plan()
    assert todo.register_runsc and "register the runsc runtime" in todo.describe()[0]
    monkeypatch.setattr(runsc, "registered", lambda: {"path": "/usr/bin/runsc"})
    assert setup.plan().empty


# --- availability: --platforms refuses what the host lacks ----------------------------------


def test_platforms_without_their_runtime_are_refused_in_one_line(
    home: Path,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runsc, "binary", lambda: None)
    line = one_line_exit_2(["run", "--platforms", "native,gvisor"], capsys, home)
    assert "gvisor is not available here: runsc is not installed" in line
    assert "vcbench host setup" in line
    monkeypatch.setattr(availability.shutil, "which", lambda _: None)
    line = one_line_exit_2(["run", "--platforms", "podman"], capsys, home)
    assert "podman is not available here: podman is not installed" in line


def test_a_dockerd_without_runsc_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Client:
        def info(self) -> dict[str, Any]:
            return {"Runtimes": {"runc": {"path": "runc"}}}

        def close(self) -> None:
            pass

    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    monkeypatch.setattr("bench.core.dockerd.connect", lambda **_: Client())
    with pytest.raises(BenchError, match="dockerd has no runsc runtime"):
        availability.require_available(["native", "gvisor"])
    availability.require_available(["native", "docker", "libvirt-emulated"])  # not asked


# --- gvisor: the docker platform with another runtime ---------------------------------------


def test_gvisor_is_docker_with_the_runsc_runtime_and_its_platform_as_accel() -> None:
    from bench.platforms.docker import DockerPlatform

    assert issubclass(GvisorPlatform, DockerPlatform)
    assert (GvisorPlatform.runtime, DockerPlatform.runtime) == ("runsc", None)
    assert accel_of("ptrace") == "runsc-ptrace"


# --- podman: the same limits, labels and keeper as docker ------------------------------------


def test_podman_gets_the_docker_limits_labels_and_no_registry(tmp_path: Path) -> None:
    limits = Limits(2, 512, (0, 1))
    args = podman.create_args("vc-1", "RUN", limits, "net", tmp_path / "c.log", "runc")
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs["--cpus"] == "2" and pairs["--cpuset-cpus"] == "0-1"
    assert pairs["--memory"] == pairs["--memory-swap"] == "512m"
    assert pairs["--runtime"] == "runc" and pairs["--pull"] == "never"
    assert args[2:4] == ["--label", "vcbench.run=RUN"]
    assert f"path={tmp_path / 'c.log'}" in args
    assert all(a != "--privileged" for a in args) and KEEPER[0] == "/bin/sh"


def test_podman_uses_runc_where_crun_refuses_hybrid_cgroups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(podman_cli, "UNIFIED", tmp_path)  # a unified mount beside v1: hybrid
    assert podman_cli.choose_runtime("crun") == "runc"
    monkeypatch.setattr(podman_cli, "UNIFIED", tmp_path / "absent")
    assert podman_cli.choose_runtime("crun") == "crun"


def test_the_ulimits_stay_under_podmans_own_process_ceiling() -> None:
    args = podman.ulimits()
    nproc = int(args[3].split("=")[1].split(":")[0])
    assert args[0] == args[2] == "--ulimit" and 0 < nproc <= podman.PODMAN_NPROC_CEILING


@pytest.fixture
def only_podman(monkeypatch: pytest.MonkeyPatch) -> None:
    """gc sees nothing but podman's fakes: never this host's real processes, cgroups, mounts,
    work dirs or owner records (a test that judged a live run dead would remove them)."""
    for finder in ("_processes", "_cgroups", "_mounts", "_work_dirs"):
        monkeypatch.setattr(gc, finder, lambda: [])
    monkeypatch.setattr(gc.labels, "forget_dead_owners", lambda: None)


@pytest.mark.usefixtures("only_podman")
def test_gc_finds_labelled_podman_leftovers_of_dead_runs_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead, alive = "20250101-000000-aaaaaa", "20250101-000000-bbbbbb"
    removed: list[str] = []
    monkeypatch.setattr(gc.shutil, "which", lambda _: "/usr/bin/podman")
    monkeypatch.setattr(
        podman,
        "gc_containers",
        lambda: [(f"vcbench-{dead}-podman-1", dead), (f"vcbench-{alive}-podman-1", alive),
                 ("someone-else", "not-a-run-id")],
    )  # fmt: skip
    monkeypatch.setattr(podman, "gc_networks", lambda: [(f"vcbench-{dead}-podman", dead)])
    monkeypatch.setattr(podman, "remove_container", removed.append)
    monkeypatch.setattr(podman, "remove_network", removed.append)
    monkeypatch.setattr(gc.labels, "run_is_alive", lambda run_id: run_id == alive)
    sweep = gc.find()
    ours = [x.describe() for x in sweep.found if x.kind.startswith("podman")]
    assert ours == [
        f"podman container vcbench-{dead}-podman-1 (run {dead})",
        f"podman network vcbench-{dead}-podman (run {dead})",
    ]
    gc.collect(sweep)
    assert removed == [f"vcbench-{dead}-podman-1", f"vcbench-{dead}-podman"]


@pytest.mark.usefixtures("only_podman")
def test_gc_says_when_podman_cannot_be_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[tuple[str, str]]:
        raise BenchError("podman ps failed")

    monkeypatch.setattr(gc.shutil, "which", lambda _: "/usr/bin/podman")
    monkeypatch.setattr(podman, "gc_containers", broken)
    assert "podman" in gc.find().unreachable


def test_docker_and_gvisor_get_a_network_each_in_one_run() -> None:
    from bench.platforms import network

    made: list[str] = []

    class Networks:
        def create(self, name: str, **_: Any) -> str:
            made.append(name)
            return name

    class Client:
        networks = Networks()

    for platform in ("docker", "gvisor"):
        network.create_docker_network(Client(), "20250101-000000-aaaaaa", platform)
    assert made == [
        "vcbench-20250101-000000-aaaaaa-net",
        "vcbench-20250101-000000-aaaaaa-gvisor-net",
    ]
