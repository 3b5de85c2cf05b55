"""Host setup and doctor against the real daemons; a labelled container and domain leave nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import vcbench_containers, vcbench_domains

VCBENCH = [sys.executable, "-m", "bench.cli"]


def vcbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VCBENCH, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="host setup needs root")
def test_setup_twice_changes_nothing_the_second_time() -> None:
    first = vcbench("host", "setup")
    assert first.returncode == 0, first.stderr
    second = vcbench("host", "setup")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("host ready: nothing to change"), second.stdout


def test_doctor_on_real_daemons(docker_client: Any, libvirt_conn: Any) -> None:
    done = vcbench("doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    status = {c["name"]: c for c in report["checks"]}
    assert status["docker"]["status"] == "ok" and "dockerd" in status["docker"]["detail"]
    assert status["libvirt"]["status"] == "ok" and "QEMU" in status["libvirt"]["detail"]
    assert status["accel"]["detail"].startswith(("kvm", "tcg")), status["accel"]
    # host setup installs runsc and podman too: every platform is usable on a CI machine
    assert report["platforms"] == {
        "native": True, "docker": True, "podman": True, "gvisor": True, "libvirt": True,
    }  # fmt: skip


def test_doctor_names_a_dead_docker_daemon_and_the_fix() -> None:
    done = vcbench("doctor", "--no-probe", env={"DOCKER_HOST": "unix:///run/vcbench-absent.sock"})
    assert done.returncode == 2
    line = next(x for x in done.stdout.splitlines() if x.split()[1:2] == ["docker"])
    assert line.startswith("FAIL") and "fix: run `vcbench host setup`" in line
    assert "docker UNUSABLE" in done.stdout


@pytest.fixture
def tiny_image(docker_client: Any) -> Iterator[str]:
    """A one-binary image imported from a tar (no registry here), removed afterwards."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox-static is missing: run `vcbench host setup`")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
    tag = f"vcbench-test/busybox:{uuid.uuid4().hex[:8]}"
    repo, version = tag.split(":")
    docker_client.api.import_image_from_data(
        buf.getvalue(), repository=repo, tag=version, changes=["LABEL vcbench.test=1"]
    )
    yield tag
    docker_client.images.remove(tag, force=True)


def test_labelled_container_is_created_and_removed(
    docker_client: Any, tiny_image: str, no_leaks: None
) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.create(
        tiny_image,
        ["/bin/busybox", "sleep", "30"],
        labels={"vcbench.run": run_id},
        network_mode="none",
    )
    try:
        container.start()
        found = [
            c.id for c in vcbench_containers(docker_client) if c.labels.get("vcbench.run") == run_id
        ]
        assert found == [container.id]
    finally:
        container.remove(force=True)
    assert run_id not in {c.labels.get("vcbench.run") for c in vcbench_containers(docker_client)}


DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <metadata><vcbench:run xmlns:vcbench='https://vcbench.dev/xmlns/1'>{run}</vcbench:run></metadata>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>"""


def test_labelled_paused_domain_is_created_and_removed(libvirt_conn: Any, no_leaks: None) -> None:
    import libvirt

    run_id = f"test-{uuid.uuid4().hex[:8]}"
    name = f"vcbench-{run_id}-probe"
    dom = libvirt_conn.createXML(
        DOMAIN_XML.format(name=name, run=run_id), libvirt.VIR_DOMAIN_START_PAUSED
    )
    try:
        assert dom.info()[0] == libvirt.VIR_DOMAIN_PAUSED
        assert name in vcbench_domains(libvirt_conn)
        assert run_id in dom.metadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, "https://vcbench.dev/xmlns/1"
        )
    finally:
        dom.destroy()
    assert name not in vcbench_domains(libvirt_conn)


def test_probe_guest_boots_under_tcg() -> None:
    """The control that makes a failed KVM boot a finding: the same guest boots under TCG."""
    from bench.core import paths
    from bench.host import accel
    from bench.images.probe_guest import probe_guest

    kernel, initramfs, version = probe_guest(paths.cache_dir(), accel.PROBE_MARKER)
    assert version.endswith("-amd64")
    took = accel.boot_to_marker("tcg", kernel, initramfs, accel.TCG_DEADLINE_S)
    assert took is not None, "the probe guest did not print its marker under TCG"
