"""The cheap claim experiments on the real daemons (native, docker, libvirt under whatever
accel the host gives), small settings, once for the module: every record is there and its
value is plausible; nothing is left behind. Then `vcbench run --experiments` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.data.outcomes import Outcome, current_records, outcomes
from bench.data.results import ExperimentRecord, RunData, RunWriter, load_run
from bench.experiments import catalog as registry
from bench.experiments.stage import run_experiments
from bench.platforms.labels import RunContext
from bench.platforms.protocol import Limits, PlatformConfig
from bench.run.runner import open_platforms
from tests.integration.platform_support import built_images, leftovers_of

pytestmark = pytest.mark.slow
PLATFORMS = ("native", "docker", "podman", "gvisor", "libvirt")
CONTAINERS = ("docker", "podman", "gvisor")
MINE = ("kernel", "visibility", "image-size", "disk-per-instance", "memory")
SMALL = {
    "disk-per-instance": {"repeats": 1, "work_mib": 16},
    "memory": {"repeats": 1, "touch_mib": 64, "settle_s": 1.0},
}
MEMORY_MIB = 512
MIB = 2**20


@pytest.fixture(scope="module")
def measured(
    tmp_path_factory: pytest.TempPathFactory, docker_client: Any, libvirt_conn: Any
) -> Iterator[tuple[RunData, list[Outcome]]]:
    images = built_images()
    run = RunContext.create()
    directory = tmp_path_factory.mktemp("results") / run.run_id
    writer = RunWriter.create(directory, {"run_id": run.run_id})
    limits = Limits.on_host(1, MEMORY_MIB, str(max(os.sched_getaffinity(0))))
    config = PlatformConfig(run, images, accel="auto")
    chosen = registry.choose({n: SMALL.get(n, {}) for n in MINE}, None, "test")
    with open_platforms(PLATFORMS, config) as platforms:
        found = run_experiments(chosen, platforms, limits, config, writer, lambda *_: None)
    yield load_run(directory), found
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []


def values(run: RunData, experiment: str) -> dict[tuple[str, str], list[ExperimentRecord]]:
    found: dict[tuple[str, str], list[ExperimentRecord]] = {}
    for r in current_records(run):
        if r.experiment == experiment:
            found.setdefault((r.platform, r.metric), []).append(r)
    return found


def one(run: RunData, experiment: str, platform: str, metric: str) -> float:
    (record,) = values(run, experiment)[(platform, metric)]
    assert record.value is not None
    return record.value


def test_every_experiment_ended_well(measured: tuple[RunData, list[Outcome]]) -> None:
    run, found = measured
    assert [(o.name, o.status, o.cause) for o in found] == [(n, "ok", "") for n in MINE]
    assert {n: o.status for n, o in outcomes(run).items()} == dict.fromkeys(MINE, "ok")


def test_a_container_runs_the_hosts_kernel_and_the_vm_its_own(
    measured: tuple[RunData, list[Outcome]],
) -> None:
    kernels = {p: r[0].text for (p, _), r in values(measured[0], "kernel").items()}
    host = os.uname().release
    assert kernels["native"] == kernels["docker"] == host
    assert kernels["libvirt"] and kernels["libvirt"] != host


def test_the_container_sees_the_hosts_memory_and_the_vm_its_own(
    measured: tuple[RunData, list[Outcome]],
) -> None:
    run = measured[0]
    host_total = psutil.virtual_memory().total
    for platform in PLATFORMS:
        assert one(run, "visibility", platform, "nproc") == 1  # the cpuset / the one vCPU
        assert one(run, "visibility", platform, "limit-memory-bytes") == MEMORY_MIB * MIB
    assert one(run, "visibility", "docker", "free-total-bytes") == host_total
    assert one(run, "visibility", "native", "free-total-bytes") == host_total
    vm_free = one(run, "visibility", "libvirt", "free-total-bytes")
    # the guest kernel keeps some of its RAM for itself: MemTotal is a little under the limit
    assert 0.8 * MEMORY_MIB * MIB < vm_free <= MEMORY_MIB * MIB
    assert vm_free == one(run, "visibility", "libvirt", "mem-total-bytes")


def test_image_sizes_come_from_the_same_userland(measured: tuple[RunData, list[Outcome]]) -> None:
    run = measured[0]
    userland = one(run, "image-size", "native", "userland-bytes")
    docker = one(run, "image-size", "docker", "image-bytes")
    vm = {m: one(run, "image-size", "libvirt", m) for m in ("image-bytes", "kernel-bytes")}
    assert 0.5 * userland < docker < 1.5 * userland  # one imported layer of that tar
    assert 0.5 * userland < vm["image-bytes"] < 3 * userland  # ext4 of the same tree
    assert 1 * MIB < vm["kernel-bytes"] < 100 * MIB
    total = one(run, "image-size", "libvirt", "total-bytes")
    parts = vm["image-bytes"] + vm["kernel-bytes"]
    assert total == parts + one(run, "image-size", "libvirt", "initramfs-bytes")
    assert one(run, "image-size", "docker", "total-bytes") == docker


def test_disk_per_instance_grows_by_the_work(measured: tuple[RunData, list[Outcome]]) -> None:
    run = measured[0]
    kept, written = 8 * MIB, 16 * MIB
    for platform in PLATFORMS:
        fresh = one(run, "disk-per-instance", platform, "bytes-fresh")
        after = one(run, "disk-per-instance", platform, "bytes-after-work")
        assert fresh < 64 * MIB
        assert kept <= after - fresh < written + 16 * MIB, platform
    # layers of files give the deleted file back; the VM's block overlay keeps what was written
    for container in CONTAINERS:
        assert one(run, "disk-per-instance", container, "bytes-after-work") < written, container
    assert one(run, "disk-per-instance", "libvirt", "bytes-after-work") >= written


def test_memory_figures_are_plausible(measured: tuple[RunData, list[Outcome]]) -> None:
    run = measured[0]
    for platform in PLATFORMS:
        for metric in ("idle-bytes", "idle-pss-bytes", "loaded-bytes", "overhead-bytes"):
            assert 0 <= one(run, "memory", platform, metric) < 2 * MEMORY_MIB * MIB
    vm_idle = one(run, "memory", "libvirt", "idle-bytes")
    # QEMU keeps the guest pages the workload touched; the container's cgroup gives them back
    assert one(run, "memory", "libvirt", "loaded-bytes") > vm_idle + 32 * MIB
    assert one(run, "memory", "libvirt", "overhead-bytes") > 0
    for container in CONTAINERS:
        assert one(run, "memory", container, "idle-bytes") < vm_idle, container
    for container in ("docker", "podman"):
        assert one(run, "memory", container, "loaded-bytes") < 32 * MIB, container
    # gVisor's Sentry backs the sandbox's memory with its own memory file and gives freed pages
    # back to the host in the background: read just after the workload exited, it may still
    # hold any part of what was touched (45 of 64 MiB once in CI), never more than all of it
    touched = SMALL["memory"]["touch_mib"] * MIB
    gvisor_idle = one(run, "memory", "gvisor", "idle-bytes")
    assert one(run, "memory", "gvisor", "loaded-bytes") < gvisor_idle + touched + 16 * MIB
    for container in CONTAINERS:
        # containerd's shim (docker, gvisor), podman's conmon
        assert 0 < one(run, "memory", container, "overhead-bytes") < 100 * MIB, container


def test_vcbench_run_measures_the_experiments_after_the_suite(
    tmp_path: Path, docker_client: Any, libvirt_conn: Any
) -> None:
    built_images()
    argv = [
        sys.executable,
        "-m",
        "bench.cli",
        "run",
        "--suite",
        "tiny",
        "--quiet",
        "--seed",
        "1",
        "--workload",
        "cpu-sysbench",
        "--repeats",
        "1",
        "--warmups",
        "0",
        "--duration",
        "1",
        "--platforms",
        "native,docker",
        "--experiments",
        "kernel,visibility",
        "--results",
        str(tmp_path / "results"),
        "--reports",
        str(tmp_path / "reports"),
        "--no-compare",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    run = load_run(Path(done.stdout.strip().splitlines()[-1]))
    assert run.meta["plan"]["experiments"] == {"kernel": {}, "visibility": {}}
    assert {o.name: o.status for o in outcomes(run).values()} == {
        "kernel": "ok",
        "visibility": "ok",
    }
    assert {(r.experiment, r.platform) for r in run.experiments} >= {
        ("kernel", "native"),
        ("kernel", "docker"),
        ("visibility", "docker"),
    }
    assert [e.kind for e in run.events][-1] == "finished"
