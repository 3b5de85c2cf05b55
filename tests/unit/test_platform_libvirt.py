"""The domain XML and network XML against libvirt's test:///default driver."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.platforms import gc, network
from bench.platforms.domain_xml import DomainSpec, render
from bench.platforms.protocol import Limits

libvirt = pytest.importorskip("libvirt")
RUN = "20250101-120000-abcdef"


@pytest.fixture
def conn() -> Iterator[Any]:
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    connection = libvirt.open("test:///default")
    yield connection
    connection.close()


def domain_spec(name: str = f"vcbench-{RUN}-libvirt-1") -> DomainSpec:
    return DomainSpec(
        name=name, run_id=RUN, domain_type="test", limits=Limits(2, 512, (0, 1)),
        kernel=Path("/k"), initrd=Path("/i"), overlay=Path("/o.qcow2"), backing=Path("/b.raw"),
        network="default", address="10.213.7.2/24",
    )  # fmt: skip


def test_create_suspend_resume_destroy(conn: Any) -> None:
    # the test driver refuses VIR_DOMAIN_START_PAUSED; suspend is the nearest it offers
    dom = conn.createXML(render(domain_spec()), 0)
    dom.suspend()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    dom.resume()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom.info()[3] == 2 and dom.maxMemory() == 512 * 1024
    pins = dom.vcpuPinInfo(0)
    assert [tuple(i for i, on in enumerate(p) if on) for p in pins] == [(0,), (1,)]
    dom.destroy()
    assert dom.name() not in [d.name() for d in conn.listAllDomains()]  # transient: gone


def test_gc_reads_the_run_from_metadata_only(conn: Any) -> None:
    ours = conn.createXML(render(domain_spec()), 0)
    assert gc.domain_run_id(ours) == RUN
    lookalike = render(domain_spec(f"vcbench-{RUN}-libvirt-2")).replace(
        "urn:vcbench:run:1", "urn:someone-else"
    )
    theirs = conn.createXML(lookalike, 0)
    assert gc.domain_run_id(theirs) is None  # vcbench name, foreign metadata: not ours
    assert gc.domain_run_id(conn.lookupByName("test")) is None
    for dom in (ours, theirs):
        dom.destroy()


def test_network_is_isolated_and_named_for_the_run(conn: Any) -> None:
    subnet = network.free_subnets(RUN, network.subnets_in_use(conn))[0]
    net = network.LibvirtNetwork(network.network_name(RUN), network.bridge_name(RUN), subnet)
    conn.networkCreateXML(network.network_xml(net))
    made = conn.networkLookupByName(net.name)
    assert "<forward" not in made.XMLDesc(0)
    assert len(net.bridge) <= 15
    assert subnet in network.subnets_in_use(conn)
    assert str(net.guest_address(0)) == f"{subnet.network_address + 2}/24"
    network.remove_libvirt_network(conn, net.name)
    network.remove_libvirt_network(conn, net.name)  # idempotent
    assert net.name not in [n.name() for n in conn.listAllNetworks()]


def test_free_subnets_skip_what_is_used() -> None:
    used = [ipaddress.IPv4Network("10.213.0.0/17")]
    free = network.free_subnets(RUN, used)
    assert free and all(not n.overlaps(used[0]) for n in free)
    assert all(n.subnet_of(network.SUBNET_POOL) for n in free)
