"""Each VM profile boots through the platform under the real libvirtd, and the guest sees the
devices the profile asked for: virtio-blk and virtio-net (default, tuned with multiqueue), a
SATA disk on AHCI and an e1000 (emulated). A short fio and an iperf3 from the host prove the
disk and the network carry work. All profiles of the run share one network; nothing leaks."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from bench.platforms.labels import RunContext
from bench.platforms.protocol import Instance, InstanceSpec, Limits, Platform, PlatformConfig
from bench.platforms.registry import open_platform
from tests.integration.platform_support import built_images, leftovers_of

MEMORY_MIB = 384
PORT = 5201
PROFILES = {"libvirt": "default", "libvirt-tuned": "tuned", "libvirt-emulated": "emulated"}
# What /sys in the guest names: (root disk, its driver path fragment, eth0's driver).
EXPECTED = {
    "libvirt": ("vda", "virtio", "virtio_net"),
    "libvirt-tuned": ("vda", "virtio", "virtio_net"),
    "libvirt-emulated": ("sda", "/ata", "e1000"),
}
FIO = [
    "fio", "--name=probe", "--filename=/var/tmp/fio.dat", "--size=8m", "--rw=randread",
    "--bs=4k", "--direct=1", "--time_based", "--runtime=2", "--output-format=json",
]  # fmt: skip


@pytest.fixture(scope="module")
def platforms(libvirt_conn: Any, docker_client: Any) -> Iterator[tuple[dict[str, Platform], str]]:
    """The three VM platforms of one run, open together as `vcbench run` opens them."""
    run = RunContext.create()
    config = PlatformConfig(run, built_images(), accel="tcg")
    with ExitStack() as stack:
        opened = {name: stack.enter_context(open_platform(name, config)) for name in PROFILES}
        yield opened, run.run_id
    assert leftovers_of(run.run_id, docker_client, libvirt_conn) == []


def _guest(instance: Instance, script: str) -> str:
    done = instance.exec(["sh", "-c", script], timeout=60)
    assert done.exit_code == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("platform_name", list(PROFILES))
def test_profile_boots_with_its_devices_and_carries_io(
    platforms: tuple[dict[str, Platform], str], platform_name: str, no_leaks: None
) -> None:
    opened, _ = platforms
    vcpus = 2 if platform_name == "libvirt-tuned" and len(os.sched_getaffinity(0)) > 1 else 1
    limits = Limits.on_host(vcpus, MEMORY_MIB)
    with opened[platform_name].start(InstanceSpec(limits, ready_timeout_s=180)) as instance:
        disk, disk_path, net_driver = EXPECTED[platform_name]
        assert f"root=/dev/{disk} " in _guest(instance, "cat /proc/cmdline")
        assert disk_path in _guest(instance, f"readlink -f /sys/block/{disk}/device")
        driver = _guest(instance, "readlink /sys/class/net/eth0/device/driver")
        assert driver.rsplit("/", 1)[-1] == net_driver
        if platform_name == "libvirt-emulated":
            assert _guest(instance, "ls /sys/bus/pci/drivers/ahci | grep -c '^0000:'") != "0"
        if platform_name == "libvirt-tuned":
            queues = _guest(instance, "ls -d /sys/class/net/eth0/queues/rx-* | wc -l")
            assert int(queues) == vcpus
        fio = json.loads(_guest(instance, " ".join(FIO)))
        assert fio["jobs"][0]["read"]["iops"] > 0
        _iperf_from_host(instance)


def _iperf_from_host(instance: Instance) -> None:
    assert instance.address is not None
    assert instance.exec(["iperf3", "-s", "-1", "-D", "-p", str(PORT)], timeout=30).exit_code == 0
    deadline = time.monotonic() + 30
    while True:  # the daemonized server listens a moment after exec returns
        done = subprocess.run(
            ["iperf3", "-c", instance.address, "-p", str(PORT), "-t", "1", "-J"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            break
        assert time.monotonic() < deadline, done.stdout[-500:] + done.stderr[-500:]
        time.sleep(0.2)
    assert json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"] > 0


def test_the_profiles_of_a_run_share_one_network(
    platforms: tuple[dict[str, Platform], str], libvirt_conn: Any
) -> None:
    _, run_id = platforms
    ours = [n.name() for n in libvirt_conn.listAllNetworks() if run_id in n.name()]
    assert len(ours) <= 1
