"""Impostors: a container, a domain and a network named exactly like a run's, but made by
someone else (no label, no metadata, not our bridge). `vcbench gc` never touches them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from bench.platforms import network
from bench.platforms.labels import resource_name
from tests.faults.conftest import ENV
from tests.integration.platform_support import built_images
from tests.support.runs import vcbench

FAKE_RUN = "20200101-000000-abcdef"  # a well-formed run id of a run long dead


def _domain_xml(name: str) -> str:
    # No disk, no kernel: firmware that finds nothing to boot and waits; enough to exist.
    return textwrap.dedent(f"""\
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>32</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type></os>
          <devices><controller type='usb' model='none'/><memballoon model='none'/></devices>
        </domain>""")


def _network_xml(name: str) -> str:
    return (
        f"<network><name>{name}</name><bridge name='vcbimpost0'/>"
        "<ip address='10.214.250.1' netmask='255.255.255.0'/></network>"
    )


@pytest.fixture
def impostors(docker_client: Any, libvirt_conn: Any) -> Iterator[dict[str, str]]:
    names = {
        "container": resource_name(FAKE_RUN, "docker", "1"),
        "domain": resource_name(FAKE_RUN, "libvirt", "1"),
        "network": network.network_name(FAKE_RUN),
    }
    tag = built_images().docker_tag
    container = docker_client.containers.create(tag, ["sleep", "infinity"], name=names["container"])
    domain = libvirt_conn.createXML(_domain_xml(names["domain"]), 0)
    net = libvirt_conn.networkCreateXML(_network_xml(names["network"]))
    try:
        yield names
    finally:
        container.remove(force=True)
        domain.destroy()
        net.destroy()


def test_gc_never_touches_what_is_named_like_ours_but_is_not(
    impostors: dict[str, str], docker_client: Any, libvirt_conn: Any
) -> None:
    listed = vcbench("gc", "--dry-run", env=ENV)
    assert listed.returncode == 0, listed.stderr
    assert not any(name in listed.stdout + listed.stderr for name in impostors.values())
    swept = vcbench("gc", env=ENV)
    assert swept.returncode == 0, swept.stderr
    assert docker_client.containers.get(impostors["container"]).name == impostors["container"]
    assert libvirt_conn.lookupByName(impostors["domain"]).isActive()
    assert libvirt_conn.networkLookupByName(impostors["network"]).isActive()
