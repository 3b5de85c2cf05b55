"""QEMU runs as libvirt's unprivileged user and leaves the shared images as they were; a run
killed with SIGKILL is judged dead, found and removed by `vcbench gc` whoever runs it."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bench.core import paths
from bench.platforms import labels
from bench.platforms.protocol import InstanceSpec, Limits, PlatformConfig
from bench.platforms.registry import open_platform
from tests.integration.platform_support import built_images, leftovers_of, wait_for_domain
from tests.support.runs import CLI, vcbench

QEMU_PIDS = Path("/run/libvirt/qemu")  # libvirtd's pid file of each running domain
START_DEADLINE_S = 180


def ids(path: Path) -> tuple[int, int, int]:
    """Owner, group and mode: what libvirt's DAC labelling would change."""
    st = path.stat()
    return st.st_uid, st.st_gid, st.st_mode


def process_uids(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uid of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no Uid line for pid {pid}")


def test_qemu_is_not_root_and_the_shared_images_keep_owner_and_mode(
    docker_client: Any, libvirt_conn: Any, no_leaks: None
) -> None:
    images = built_images()
    shared = [images.disk_raw, images.kernel, images.initramfs]
    before = {path: ids(path) for path in shared}
    run = labels.RunContext.create()
    limits = Limits.on_host(1, 384, str(max(os.sched_getaffinity(0))))
    with open_platform("libvirt", PlatformConfig(run, images, accel="tcg")) as platform:
        with platform.start(InstanceSpec(limits, ready_timeout_s=120)) as instance:
            pid = int((QEMU_PIDS / f"{instance.name}.pid").read_text())
            uids = process_uids(pid)
            user = pwd.getpwuid(uids[0]).pw_name
            assert 0 not in uids, f"QEMU of {instance.name} runs as root: {uids}"
            overlay = run.work_dir / "instances" / instance.name / "disk.qcow2"
            assert overlay.stat().st_uid == uids[0], f"the overlay was not labelled for {user}"
            assert {path: ids(path) for path in shared} == before, "relabelled while running"
            assert instance.exec(["cat", "/etc/hostname"], timeout=30).exit_code == 0
        assert not (run.work_dir / "instances" / instance.name).exists()
        left = leftovers_of(run.run_id, docker_client, libvirt_conn)
        assert [x for x in left if not x.startswith("libvirt network ")] == []
    assert {path: ids(path) for path in shared} == before, f"changed after QEMU ran as {user}"


def run_of_pid(pid: int, deadline: float) -> str:
    """The run id whose host-wide owner record names pid (written as the run starts)."""
    owners = paths.runtime_dir() / "owners"
    while time.monotonic() < deadline:
        for record in owners.glob("*.json"):
            try:
                if json.loads(record.read_text()).get("pid") == pid:
                    return record.stem
            except (OSError, ValueError):
                continue  # being written
        time.sleep(0.05)
    raise AssertionError(f"no owner record for pid {pid}")


@pytest.mark.skipif(os.geteuid() != 0, reason="the host-wide owner directory is root's")
def test_gc_after_sigkill_exits_0_whoever_runs_it_and_finds_nothing_next_time(
    tmp_path: Path, docker_client: Any, libvirt_conn: Any
) -> None:
    built_images()
    # someone else's gc: another HOME and state dir, yet the same verdicts
    stranger = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    exec_sleep = ["exec", "--platform", "libvirt", "--accel", "tcg", "--", "sleep", "600"]
    child = subprocess.Popen(  # a session of its own: the SIGKILL reaches it alone
        [*CLI, *exec_sleep], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        run_id = run_of_pid(child.pid, deadline)
        wait_for_domain(libvirt_conn, labels.resource_name(run_id, "libvirt", "1"), child, deadline)
        alive = vcbench("gc", "--dry-run", env=stranger)
        assert alive.returncode == 0 and run_id not in alive.stdout, alive.stdout
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    dead = vcbench("gc", "--dry-run", env=stranger)
    found = [line for line in dead.stdout.splitlines() if line.endswith(f"(run {run_id})")]
    for kind in ("domain", "libvirt network", "work dir"):  # the work dir: from the record
        assert any(line.startswith(f"would remove {kind} ") for line in found), dead.stdout
    collected = vcbench("gc", env=stranger)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    again = vcbench("gc", "--dry-run")
    assert again.returncode == 0 and again.stdout.strip() == "0 leftover(s) found.", again.stdout
    assert leftovers_of(run_id, docker_client, libvirt_conn) == []
