"""gvisor and podman without their daemons: registration, availability, command lines, gc."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.core import podman_cli
from bench.core.errors import BenchError
from bench.host import availability, runsc, runsc_probe, setup
from bench.platforms import gc, podman
from bench.platforms.gvisor import GvisorPlatform, accel_of
from bench.platforms.protocol import KEEPER, Limits
from tests.unit.test_bad_input import home, one_line_exit_2  # noqa: F401 - fixture

CHOICE = runsc.RunscChoice(
    "ptrace", "host", "/usr/bin/runsc", "ptrace (systrap, kvm: did not run here)"
)
EARLIER_ENTRY = {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=host"]}


# --- runsc in daemon.json -------------------------------------------------------------------


def test_registering_runsc_keeps_every_other_key_and_runtime(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    existing = {"log-level": "warn", "runtimes": {"kata": {"path": "/usr/bin/kata"}}}
    path.write_text(json.dumps(existing))
    runsc.write_config(runsc.with_runtime(runsc.read_config(path), CHOICE), path)
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


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The probe with every runsc trial faked: `netstack` says which argv0s run netstack."""
    state: dict[str, Any] = {"netstack": set(), "tried": [], "wrapper": tmp_path / "runsc-netns"}

    def platform_runs(_: str, platform: str) -> bool:
        state["tried"].append(platform)
        return platform == "ptrace"

    monkeypatch.setattr(runsc_probe, "platform_runs", platform_runs)
    monkeypatch.setattr(runsc_probe, "netstack_runs", lambda argv0, _: argv0 in state["netstack"])
    return state


def test_the_probe_takes_plain_netstack_where_runsc_allows_it(probed: dict[str, Any]) -> None:
    probed["netstack"] = {"/usr/bin/runsc"}
    choice = runsc_probe.probe("/usr/bin/runsc", probed["wrapper"])
    assert (choice.platform, choice.network, choice.path) == ("ptrace", "sandbox", "/usr/bin/runsc")
    assert probed["tried"][0] == "systrap"
    assert not probed["wrapper"].exists()


def test_the_probe_runs_netstack_through_the_wrapper_where_plain_runsc_refuses(
    probed: dict[str, Any],
) -> None:
    probed["netstack"] = {str(probed["wrapper"])}
    choice = runsc_probe.probe("/usr/bin/runsc", probed["wrapper"])
    assert (choice.network, choice.path) == ("sandbox", str(probed["wrapper"]))
    assert "wrapper" in choice.reason and "rmem_default" in choice.reason
    assert os.access(probed["wrapper"], os.X_OK)
    assert 'exec "$0" "$@"\' /usr/bin/runsc "$@"' in probed["wrapper"].read_text()


def test_the_probe_falls_back_to_the_host_network_and_leaves_no_wrapper(
    probed: dict[str, Any],
) -> None:
    choice = runsc_probe.probe("/usr/bin/runsc", probed["wrapper"])
    assert (choice.platform, choice.network, choice.path) == ("ptrace", "host", "/usr/bin/runsc")
    assert "refused netstack" in choice.reason
    assert not probed["wrapper"].exists()


def test_the_wrapper_is_valid_sh_hides_only_net_and_is_rewritten_only_when_stale(
    tmp_path: Path,
) -> None:
    target = tmp_path / "libexec" / "runsc-netns"
    assert runsc_probe.install_wrapper("/opt/runsc", target)
    assert subprocess.run(["sh", "-n", str(target)], check=False).returncode == 0
    text = target.read_text()
    assert "@RUNSC@" not in text and '[ "$name" = net ] && continue' in text
    assert not runsc_probe.install_wrapper("/opt/runsc", target)
    assert runsc_probe.wrapper_current("/opt/runsc", target)
    assert not runsc_probe.wrapper_current("/usr/bin/runsc", target)


def test_an_earlier_vcbench_host_network_entry_is_probed_again_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, record = tmp_path / "daemon.json", tmp_path / "runsc-probe.json"
    path.write_text(json.dumps({"debug": True, "runtimes": {"runsc": EARLIER_ENTRY}}))
    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    assert runsc.stale(EARLIER_ENTRY, record) and runsc.needs_registering(path, record)
    wrapped = runsc.RunscChoice("ptrace", "sandbox", str(runsc.WRAPPER), "through the wrapper")
    monkeypatch.setattr(runsc, "probe", lambda _: wrapped)
    line = runsc.register(path, record)
    assert line is not None and "--network=sandbox" in line
    written = json.loads(path.read_text())
    assert written["debug"] is True
    assert written["runtimes"]["runsc"]["path"] == str(runsc.WRAPPER)
    assert runsc.recorded_choice(record) == written["runtimes"]["runsc"]
    assert not runsc.stale(written["runtimes"]["runsc"], record)


def test_a_host_network_entry_this_probe_chose_is_not_probed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "runsc-probe.json"
    monkeypatch.setattr(runsc, "binary", lambda: "/usr/bin/runsc")
    runsc.record_choice(CHOICE, record)
    assert not runsc.stale(EARLIER_ENTRY, record)
    someone_elses = {"path": "/opt/runsc", "runtimeArgs": ["--platform=ptrace", "--network=host"]}
    assert not runsc.stale(someone_elses, tmp_path / "no-record.json")


def test_a_sandboxs_host_processes_are_found_by_argv0_and_the_full_container_id() -> None:
    from types import SimpleNamespace

    from bench.platforms.gvisor import sandbox_processes

    cid = "ab" * 32
    task = f"--log=/run/containerd/io.containerd.runtime.v2.task/moby/{cid}/log.json"

    def proc(*argv: str) -> SimpleNamespace:
        return SimpleNamespace(info={"name": "exe", "cmdline": list(argv)})

    mine = [
        proc("runsc-sandbox", "--root=/var/run/docker/runtime-runc/moby", task),
        proc("runsc-gofer", task),
        proc("/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", cid),
    ]
    others = [
        proc("runsc-sandbox", task.replace(cid, "cd" * 32)),  # another container's
        proc("/usr/bin/less", f"/tmp/{cid}.log"),  # names the id, is not the sandbox
        proc(),  # a zombie: no command line
    ]
    assert sandbox_processes(cid, mine + others) == mine


def test_network_labels_name_the_stack_and_the_wrapper() -> None:
    assert runsc.network_label(EARLIER_ENTRY).startswith("host stack")
    wrapped = {"path": str(runsc.WRAPPER), "runtimeArgs": ["--network=sandbox"]}
    assert "runsc-netns wrapper" in runsc.network_label(wrapped)
    assert runsc.network_label({"path": "/usr/bin/runsc"}) == "gVisor netstack"


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
    monkeypatch.setattr(runsc, "registered", lambda *_: None)
    todo = setup.plan()
    assert todo.register_runsc and "register the runsc runtime" in todo.describe()[0]
    monkeypatch.setattr(runsc, "registered", lambda *_: {"path": "/usr/bin/runsc"})
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
