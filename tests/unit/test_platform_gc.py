"""gc selects only what vcbench labelled, and only for runs that are dead."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from bench.core import paths
from bench.platforms import gc, labels


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Owners, runs and their work dirs in tmp_path. podman is daemonless and asked whenever it
    is installed: with the owner records moved here every real run would look dead, so its
    finders see nothing (a unit run must never remove a live benchmark's containers)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(gc, "_podman_containers", lambda: [])
    monkeypatch.setattr(gc, "_podman_networks", lambda: [])
    return tmp_path


def test_run_ids_and_names() -> None:
    rid = labels.new_run_id()
    assert labels.is_run_id(rid)
    assert labels.run_of(labels.resource_name(rid, "docker", "3")) == rid
    for foreign in ("vcbench-foo", "myvm", f"x{labels.resource_name(rid)}", "vcbench-2025-1"):
        assert labels.run_of(foreign) is None


def test_a_run_is_alive_while_its_process_is() -> None:
    run = labels.RunContext.create()
    assert labels.run_is_alive(run.run_id)
    owner = labels.owner_path(run.run_id)
    data = json.loads(owner.read_text())
    owner.write_text(json.dumps({**data, "start": "1"}))  # same pid, another process
    assert not labels.run_is_alive(run.run_id)
    owner.write_text(json.dumps({**data, "boot": "another-boot"}))
    assert not labels.run_is_alive(run.run_id)
    assert not labels.run_is_alive("20250101-000000-000000")  # no work dir at all


def test_liveness_is_host_wide_whoever_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_runtime_dir: Path
) -> None:
    """As root the record sits in the one host-wide directory (mode 1777, records 0644), not
    in the caller's XDG dirs: a gc with another HOME and XDG_STATE_HOME judges it the same."""
    monkeypatch.setattr(paths, "is_root", lambda: True)
    run = labels.RunContext.create()
    record = private_runtime_dir / "owners" / f"{run.run_id}.json"
    assert labels.owner_path(run.run_id) == record
    assert (record.parent.stat().st_mode & 0o7777, record.stat().st_mode & 0o777) == (0o1777, 0o644)
    assert json.loads(record.read_text())["work"] == str(run.work_dir)
    for var in ("HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "someone-else"))
    assert labels.run_is_alive(run.run_id)


def test_a_non_root_run_without_the_host_wide_directory_records_itself_in_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_runtime_dir: Path
) -> None:
    monkeypatch.setattr(paths, "is_root", lambda: False)
    monkeypatch.setattr(paths, "SYSTEM_RUNTIME", tmp_path / "absent")
    run = labels.RunContext.create()
    assert labels.owner_path(run.run_id) == private_runtime_dir / "vcbench/owners" / (
        f"{run.run_id}.json"
    )
    assert labels.run_is_alive(run.run_id)


def test_gc_finds_a_dead_run_s_work_dir_under_another_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for host_wide in ("_processes", "_cgroups", "_mounts", "_swarm"):
        monkeypatch.setattr(gc, host_wide, lambda *_: [])
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "the-run-s"))
    dead = labels.RunContext.create()
    _instance_dir(dead)
    owner = labels.owner_path(dead.run_id)
    owner.write_text(json.dumps({**json.loads(owner.read_text()), "start": "1"}))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "gc-s"))
    assert [(x.kind, x.run_id) for x in gc.find().found] == [("work dir", dead.run_id)]
    gc.collect(gc.find())
    assert not (dead.work_dir / "instances").exists() and not owner.exists()
    assert gc.find().found == []


def _instance_dir(run: labels.RunContext) -> Path:
    path = run.instance_dir(labels.resource_name(run.run_id, "libvirt", "1"))
    (path / "disk.qcow2").write_bytes(b"x")
    return path


def test_gc_takes_dead_runs_overlays_and_keeps_their_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Processes, cgroups and mounts are host-wide: a benchmark running beside this test has
    # its owner file in the real state dir, not this test's, and would look dead to it.
    for host_wide in ("_processes", "_cgroups", "_mounts", "_swarm"):
        monkeypatch.setattr(gc, host_wide, lambda *_: [])
    dead = labels.RunContext.create()
    alive = labels.RunContext.create()
    _instance_dir(dead)
    _instance_dir(alive)
    (dead.log_dir / "vm.log").write_text("console")
    dead_owner = labels.owner_path(dead.run_id)
    dead_owner.write_text(json.dumps({**json.loads(dead_owner.read_text()), "pid": 0}))
    stranger = paths.state_dir() / "runs" / "not-a-run" / "instances" / "x"
    stranger.mkdir(parents=True)

    sweep = gc.find()
    assert [(x.kind, x.run_id) for x in sweep.found] == [("work dir", dead.run_id)]
    assert sweep.unreachable == ["docker", "libvirt"]
    gc.collect(sweep)
    assert not (dead.work_dir / "instances").exists()
    assert (dead.log_dir / "vm.log").exists()
    assert any((alive.work_dir / "instances").iterdir())
    assert stranger.exists()
    assert gc.find().found == []
    assert not dead_owner.exists() and labels.owner_path(alive.run_id).exists()


def test_a_failing_removal_is_reported_and_the_rest_goes_on() -> None:
    def stuck() -> None:
        raise OSError("busy")

    removed: list[str] = []
    sweep = gc.Sweep(
        [
            gc.Leftover("mount", "/a", "r", stuck),
            gc.Leftover("x", "b", "r", lambda: removed.append("b")),
        ],
        [],
    )
    gc.collect(sweep)
    assert removed == ["b"] and sweep.failed == ["mount /a (run r): busy"]


def test_a_transient_domain_already_gone_after_destroy_is_removed_not_failed() -> None:
    """libvirt's test driver: destroying a transient domain undefines it, so asking whether
    it is persistent afterwards says "not found"; gc must count that as done."""
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open("test:///default")
    xml = (
        "<domain type='test'><name>vcbench-20260101-000000-abcdef-libvirt-1</name>"
        "<memory>1024</memory><os><type>hvm</type></os></domain>"
    )
    domain = conn.createXML(xml, 0)
    sweep = gc.collect(
        gc.Sweep(
            [gc.Leftover("domain", domain.name(), "r", lambda: gc._destroy_and_undefine(domain))],
            [],
        )
    )
    assert sweep.failed == []
    assert domain.name() not in [d.name() for d in conn.listAllDomains()]
    conn.close()


def test_the_reaper_removes_dead_runs_things_says_each_and_records_one_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `vcbench run` does first: a dead run's container and overlays go, a live run's
    stay; each is named on the terminal and in one `reaped` run event."""
    from bench.cli import execute
    from bench.cli.run_session import reaped_events

    for host_wide in ("_processes", "_cgroups", "_mounts"):
        monkeypatch.setattr(gc, host_wide, lambda: [])
    monkeypatch.setattr(execute, "_docker_or_none", lambda: None)  # no real daemon's state
    monkeypatch.setattr(execute, "_libvirt_or_none", lambda: None)
    dead, alive = labels.RunContext.create(), labels.RunContext.create()
    _instance_dir(dead)
    _instance_dir(alive)
    dead_owner = labels.owner_path(dead.run_id)
    dead_owner.write_text(json.dumps({**json.loads(dead_owner.read_text()), "pid": 0}))
    removed: list[str] = []
    containers = [
        gc.Leftover(
            "container", f"vcbench-{r.run_id}-docker-1", r.run_id, partial(removed.append, r.run_id)
        )
        for r in (dead, alive)
    ]
    left = gc.Finder("host", lambda c: [x for x in containers if x.run_id not in removed])
    monkeypatch.setattr(gc, "FINDERS", (left, *gc.FINDERS))

    said: list[str] = []
    sweep = execute.reap_leftovers(said.append)
    assert removed == [dead.run_id]  # the live run's container is never touched
    assert not (dead.work_dir / "instances").exists()
    assert any((alive.work_dir / "instances").iterdir())
    assert said == [
        f"reaped container vcbench-{dead.run_id}-docker-1 (run {dead.run_id}): its run's owner"
        " is gone",
        f"reaped work dir {dead.work_dir / 'instances'} (run {dead.run_id}): its run's owner"
        " is gone",
    ]
    (event,) = reaped_events(sweep, 1.0)
    assert event.kind == "reaped" and event.data["runs"] == [dead.run_id]
    assert len(event.data["removed"]) == 2 and "2 leftover(s) of 1 dead run(s)" in event.message
    assert execute.reap_leftovers(said.append).found == []
    assert reaped_events(gc.Sweep([], []), 1.0) == []
