"""vcbench on a systemd + cgroup v2 host (the guest of conftest.py): what a user's KVM box
runs, checked from the results the guest wrote."""

from __future__ import annotations

import json
from typing import Any

from tests.hosts.conftest import GuestRun

PLATFORMS = ("native", "docker", "podman", "gvisor")


def _ok(run: GuestRun, step: str) -> None:
    assert step in run.steps, f"step {step} never ran; console:\n{run.console[-4000:]}"
    assert run.steps[step]["rc"] == 0, run.explain(step)


def test_the_guest_runs_systemd_on_the_unified_hierarchy(
    guest_run: GuestRun, record_property: Any
) -> None:
    record_property("accel", guest_run.accel)
    record_property("build_s", round(guest_run.build_s, 1))
    record_property("guest_s", round(guest_run.guest_s, 1))
    record_property("steps", guest_run.steps)
    _ok(guest_run, "facts")
    facts = dict(line.split(" ", 1) for line in guest_run.text("facts").splitlines())
    assert facts["pid1"] == "systemd"
    assert facts["cgroupfs"] == "cgroup2fs"
    assert "memory" in facts["controllers"].split()


def test_host_setup_starts_the_daemons_through_systemctl(guest_run: GuestRun) -> None:
    _ok(guest_run, "setup")
    out = guest_run.text("setup")
    for daemon in ("containerd", "dockerd", "virtlogd", "libvirtd"):
        assert f"started {daemon}" in out, guest_run.explain("setup")
    _ok(guest_run, "units")
    _ok(guest_run, "setup-again")
    assert "nothing to change" in guest_run.text("setup-again"), guest_run.explain("setup-again")


def test_doctor_reports_cgroup_v2_the_systemd_driver_and_the_platforms(guest_run: GuestRun) -> None:
    doctor = json.loads(guest_run.text("doctor"))
    checks = {c["name"]: c for c in doctor["checks"]}
    assert checks["cgroups"]["detail"] == "cgroup v2 (unified)"
    assert "cgroup driver systemd, cgroup v2" in checks["docker"]["detail"], checks["docker"]
    assert "cgroup manager systemd" in checks["podman"]["detail"], checks["podman"]
    assert "cgroup v2" in checks["podman"]["detail"], checks["podman"]
    assert checks["runsc"]["status"] == "ok", checks["runsc"]
    for platform in PLATFORMS:
        assert doctor["platforms"][platform], (platform, doctor)


def test_a_tiny_run_on_every_container_platform_finishes_ok(guest_run: GuestRun) -> None:
    _ok(guest_run, "images")
    _ok(guest_run, "run-tiny")
    trials = [t for t in _trials(guest_run) if t["workload"] != "hosts-oom"]
    assert {t["platform"] for t in trials} == set(PLATFORMS)
    bad = [t for t in trials if t["status"] != "ok"]
    assert bad == [], bad


def test_the_cgroup_collectors_agree_with_memory_current(guest_run: GuestRun) -> None:
    _ok(guest_run, "collectors")
    found = json.loads(guest_run.text("collectors"))
    for platform in PLATFORMS:
        got = found[platform]
        assert got["collector_version"] == 2, got
        assert got["collector_dir"] == got["own_dir"], got
        low, high = sorted((got["collector_before"], got["collector_after"]))
        assert low > 0, got
        # The instance is idle: its own reading lies between the collector's two, give or
        # take what a page-cache flush or the exec itself moves in between.
        slack = max(4 * 2**20, 0.1 * high)
        assert low - slack <= got["own"] <= high + slack, got
        if got["inside"] is not None:
            assert got["inside"] > 0, got
        assert got["memory_max"] == str(256 * 2**20), got


def test_a_native_allocation_over_memory_max_is_an_oom(guest_run: GuestRun) -> None:
    assert "run-oom" in guest_run.steps, guest_run.console[-4000:]
    trials = [t for t in _trials(guest_run) if t["workload"] == "hosts-oom"]
    assert trials, guest_run.explain("run-oom")
    for trial in trials:
        assert (trial["status"], trial["cause"]) == ("failed", "oom"), trial
        assert "killed by the OOM killer at the 256 MiB memory limit" in trial["error"], trial


def test_gc_leaves_nothing(guest_run: GuestRun) -> None:
    _ok(guest_run, "gc")
    _ok(guest_run, "leftovers")
    assert json.loads(guest_run.text("leftovers")) == []


def _trials(run: GuestRun) -> list[dict[str, Any]]:
    """Every trial of every run the guest made (the tiny suite's, then the OOM one's)."""
    found: list[dict[str, Any]] = []
    for trials in sorted((run.out / "results").glob("*/trials.jsonl")):
        found += [json.loads(line) for line in trials.read_text().splitlines() if line.strip()]
    return found
