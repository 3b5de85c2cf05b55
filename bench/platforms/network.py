"""Each run's own networks: a Docker bridge network and an isolated libvirt network.

Instances talk only to the host and to each other on these; nothing routes anywhere else.
Both carry the run id (Docker label; libvirt name, since libvirt 9.0 networks have no
metadata) and are removed when the platform closes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import psutil

from bench.core.errors import PlatformError
from bench.platforms.labels import RUN_LABEL, resource_name

SUBNET_POOL = ipaddress.IPv4Network("10.213.0.0/16")  # /24s handed out to libvirt networks
FIRST_STATIC_HOST = 2  # .1 is the host's side of the bridge; DHCP gets the upper half


def network_name(run_id: str) -> str:
    return resource_name(run_id, "net")


def create_docker_network(
    client: Any, run_id: str, platform: str = "docker", *, internal: bool = True
) -> Any:
    """An internal bridge network: the host reaches containers on it, they reach nothing else.

    One per dockerd-backed platform of the run (docker, gvisor), so closing one platform never
    pulls the network from under the other's containers. docker-nat's is not internal:
    Docker publishes no port on an internal network (its containers then have a route out,
    which nothing they run uses; the published ports bind to this bridge's host address only).
    """
    name = network_name(run_id) if platform == "docker" else resource_name(run_id, platform, "net")
    return client.networks.create(
        name,
        driver="bridge",
        internal=internal,
        labels={RUN_LABEL: run_id},
        check_duplicate=True,
    )


def remove_docker_network(network: Any) -> None:
    network.remove()


@dataclass(frozen=True)
class LibvirtNetwork:
    name: str
    bridge: str
    subnet: ipaddress.IPv4Network

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + 1)

    def guest_address(self, index: int) -> ipaddress.IPv4Interface:
        """A static address for the index-th guest, below the DHCP range."""
        if not 0 <= index < 128 - FIRST_STATIC_HOST:
            raise PlatformError(f"no static address left for guest {index} on {self.name}")
        host = self.subnet.network_address + FIRST_STATIC_HOST + index
        return ipaddress.IPv4Interface(f"{host}/{self.subnet.prefixlen}")


def bridge_name(run_id: str) -> str:
    """Linux interface names stop at 15 characters: a digest of the run id, not the id."""
    return "vcb" + hashlib.sha1(run_id.encode()).hexdigest()[:8]


def network_xml(net: LibvirtNetwork) -> str:
    root = ET.Element("network")
    ET.SubElement(root, "name").text = net.name
    ET.SubElement(root, "bridge", name=net.bridge, stp="off", delay="0")
    ip = ET.SubElement(
        root, "ip", address=net.host_address, netmask=str(net.subnet.netmask)
    )  # no <forward>: isolated, the guests see the host and each other only
    dhcp = ET.SubElement(ip, "dhcp")
    base = net.subnet.network_address
    ET.SubElement(dhcp, "range", start=str(base + 128), end=str(base + 254))
    return ET.tostring(root, encoding="unicode")


def subnets_in_use(conn: Any) -> list[ipaddress.IPv4Network]:
    """Every IPv4 subnet on a host interface or in any libvirt network, started or not."""
    used = [
        ipaddress.ip_interface(f"{a.address}/{a.netmask}").network
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and a.netmask
    ]
    for other in conn.listAllNetworks():
        for ip in ET.fromstring(other.XMLDesc(0)).iter("ip"):
            if ip.get("address") and ip.get("netmask") and ip.get("family", "ipv4") == "ipv4":
                used.append(
                    ipaddress.ip_interface(f"{ip.get('address')}/{ip.get('netmask')}").network
                )
    return [n for n in used if isinstance(n, ipaddress.IPv4Network)]


def free_subnets(run_id: str, used: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
    """The pool's free /24s, starting at one picked from the run id so runs rarely collide."""
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    start = int(hashlib.sha1(run_id.encode()).hexdigest(), 16) % len(candidates)
    ordered = candidates[start:] + candidates[:start]
    return [c for c in ordered if not any(c.overlaps(u) for u in used)]


def create_libvirt_network(conn: Any, run_id: str, attempts: int = 8) -> LibvirtNetwork:
    """A transient isolated network; a subnet taken meanwhile by another run is skipped."""
    import libvirt

    last = ""
    for subnet in free_subnets(run_id, subnets_in_use(conn))[:attempts]:
        net = LibvirtNetwork(network_name(run_id), bridge_name(run_id), subnet)
        try:
            conn.networkCreateXML(network_xml(net))
            return net
        except libvirt.libvirtError as exc:
            last = str(exc)
    raise PlatformError(
        f"could not create libvirt network {network_name(run_id)} ({last or 'no free subnet'})",
        f"free a /24 in {SUBNET_POOL} or run `vcbench gc`",
    )


def remove_libvirt_network(conn: Any, name: str) -> None:
    import libvirt

    try:
        conn.networkLookupByName(name).destroy()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
            raise
