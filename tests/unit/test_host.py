"""Host check logic: packages, daemon sockets, /dev/kvm ownership, setup plans, doctor verdicts."""

from __future__ import annotations

import grp
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.core.errors import HostError
from bench.host import daemons, doctor, kvm, packages, setup
from bench.host.doctor import Check


def test_missing_packages_reads_dpkg_status(monkeypatch: pytest.MonkeyPatch) -> None:
    out = "docker.io ii \nqemu-utils un \nkmod:amd64 ii \n"

    def fake_run(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, out, "dpkg-query: no packages found")

    monkeypatch.setattr(packages, "run", fake_run)
    missing = packages.missing_packages(["docker.io", "qemu-utils", "kmod", "mmdebstrap"])
    assert missing == ["qemu-utils", "mmdebstrap"]


def test_package_list_is_one_list_with_reasons() -> None:
    assert "docker.io" in packages.APT_PACKAGES and "libvirt-dev" in packages.APT_PACKAGES
    assert all(reason for reason in packages.APT_PACKAGES.values())
    assert packages.install_command(["a", "b"])[-2:] == ["a", "b"]


@pytest.fixture
def unix_server(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A real socket that answers like dockerd's /_ping (the reply is set by the test)."""
    path = tmp_path / "d.sock"
    replies: list[bytes] = [b"HTTP/1.1 200 OK\r\n\r\nOK"]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(replies[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, replies
    stop.set()
    thread.join()
    srv.close()


def test_answers_needs_a_listening_socket(tmp_path: Path) -> None:
    d = daemons.Daemon("x", tmp_path / "absent.sock", ("x",), "x.service", daemonizes=True)
    assert not daemons.answers(d)


def test_answers_checks_dockerd_ping_status(unix_server: tuple[Path, list[bytes]]) -> None:
    path, replies = unix_server
    d = daemons.Daemon("dockerd", path, ("dockerd",), "docker.service", False, http_ping=True)
    assert daemons.answers(d)
    replies[0] = b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert not daemons.answers(d)


def test_daemon_start_order_puts_dependencies_first() -> None:
    names = [d.name for d in daemons.DAEMONS]
    assert names.index("containerd") < names.index("dockerd")
    assert names.index("virtlogd") < names.index("libvirtd")


def test_kvm_needs_fix_on_wrong_mode(tmp_path: Path) -> None:
    device = tmp_path / "kvm"
    device.write_text("")
    try:
        gid = grp.getgrnam(kvm.KVM_GROUP).gr_gid
    except KeyError:
        pytest.skip("no kvm group on this host")
    os.chown(device, -1, gid)
    os.chmod(device, 0o600)
    assert kvm.needs_fix(device)
    kvm.fix(device)
    assert not kvm.needs_fix(device)
    assert not kvm.needs_fix(tmp_path / "absent")


def test_setup_plan_describes_every_step() -> None:
    todo = setup.SetupPlan(
        packages=["mmdebstrap"], fix_kvm=True, daemons=[daemons.by_name("dockerd")]
    )
    assert not todo.empty
    assert todo.describe() == [
        "install packages: mmdebstrap",
        "give /dev/kvm to group kvm, mode 660",
        "start dockerd",
    ]
    assert setup.SetupPlan().empty


def test_setup_refuses_without_root_and_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(HostError) as err:
        setup.apply(setup.SetupPlan(packages=["runc"]))
    assert "install packages: runc" in err.value.message
    assert err.value.hint == "run `sudo vcbench host setup`"


def test_usable_platforms_follow_failures() -> None:
    checks = [
        Check("docker", "fail", "dockerd not reachable", "fix", ("docker",)),
        Check("accel", "warn", "tcg"),
        Check("libvirt", "ok", "fine"),
    ]
    assert doctor.usable_platforms(checks) == {
        "native": True,
        "docker": False,
        "podman": True,
        "gvisor": True,
        "libvirt": True,
    }
    assert doctor.as_json(checks)["platforms"]["docker"] is False


def test_docker_check_names_problem_and_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    check = doctor.check_docker()
    assert check.status == "fail"
    assert check.fix == doctor.SETUP_FIX
    assert check.platforms == ("docker", "gvisor")  # gvisor is docker with runsc
    assert "\n" not in check.detail


def test_libvirt_version_format() -> None:
    assert doctor.libvirt_version(9_000_000) == "9.0.0"
    assert doctor.libvirt_version(7_002_022) == "7.2.22"
