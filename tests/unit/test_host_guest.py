"""The hosts tier's guest image spec and its systemd set-up, without building anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.images import host_guest
from bench.images import spec as image_spec


def test_the_guest_spec_is_the_workload_spec_with_its_own_packages_and_disk() -> None:
    base = image_spec.load()
    guest = host_guest.load_spec(["docker.io", "systemd", "runsc"])
    assert (guest.suite, guest.source_date_epoch, guest.kernel) == (
        base.suite,
        base.source_date_epoch,
        base.kernel,
    )
    assert guest.hostname == "vcbench-host"
    assert guest.packages[:2] == ("systemd", "systemd-sysv")
    assert guest.packages.count("systemd") == 1  # extras already listed are not repeated
    assert {"docker.io", "runsc", "crun", "dbus", "python3"} <= set(guest.packages)
    assert guest.disk.size_mib > base.disk.size_mib


def test_systemd_is_pid_1_on_the_unified_hierarchy() -> None:
    assert "vcbench.init=/lib/systemd/systemd" in host_guest.CMDLINE.split()
    assert "systemd.unified_cgroup_hierarchy=1" in host_guest.CMDLINE.split()


def test_daemons_are_installed_but_not_started_at_boot_and_the_driver_is(tmp_path: Path) -> None:
    units = tmp_path / "etc/systemd/system"
    for link in (
        "multi-user.target.wants/docker.service",
        "multi-user.target.wants/containerd.service",
        "sockets.target.wants/docker.socket",
        "sockets.target.wants/libvirtd-ro.socket",
        "timers.target.wants/apt-daily.timer",
        "multi-user.target.wants/dbus.service",
        "getty.target.wants/getty@tty1.service",
    ):
        (units / link).parent.mkdir(parents=True, exist_ok=True)
        (units / link).symlink_to("/lib/systemd/system/" + Path(link).name)
    host_guest._disable_daemons(tmp_path)
    host_guest._install_driver(tmp_path)
    left = sorted(str(p.relative_to(units)) for p in units.glob("*.wants/*"))
    assert left == [
        "getty.target.wants/getty@tty1.service",
        "multi-user.target.wants/dbus.service",
        "multi-user.target.wants/vcbench-hosts.service",
    ]
    assert (tmp_path / host_guest.DRIVER).stat().st_mode & 0o111
    assert f"ExecStart=/{host_guest.DRIVER}" in (units / host_guest.UNIT).read_text()


def test_a_changed_command_line_is_a_new_cache_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    first = host_guest.recipe()
    monkeypatch.setattr(host_guest, "CMDLINE", host_guest.CMDLINE + " quiet")
    assert host_guest.recipe() != first
