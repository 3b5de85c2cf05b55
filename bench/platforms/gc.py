"""`vcbench gc`: remove what dead runs left behind, and nothing vcbench did not label.

A thing is vcbench's only if it carries a run id the way labels.py writes it (Docker label,
domain metadata, network name, work dir, process environment, cgroup name), and it is
removed only if that run is dead: its host-wide owner record names no live process.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError
from bench.core.podman_cli import PODMAN
from bench.core.proc import run
from bench.platforms import cgroup, labels, network, podman, procs, swarm


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    run_id: str
    remove: Callable[[], object] = field(compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.kind} {self.name} (run {self.run_id})"


@dataclass
class Sweep:
    found: list[Leftover]
    unreachable: list[str]  # e.g. "docker: ..." when a daemon could not be asked
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Clients:
    """The daemons a finder may ask; None where one could not be reached."""

    docker: Any = None
    libvirt: Any = None


@dataclass(frozen=True)
class Finder:
    """One kind of leftover: where to look (the daemon it asks, "podman" for the CLI, "host"
    for files and processes), and how. A new kind of thing a run makes adds a Finder here."""

    source: str
    find: Callable[[Clients], list[Leftover]]


# In removal order: instances before the networks and work dirs they used.
FINDERS: tuple[Finder, ...] = (
    Finder("docker", lambda c: _containers(c.docker)),
    Finder("docker", lambda c: _docker_networks(c.docker)),
    Finder("libvirt", lambda c: _domains(c.libvirt)),
    Finder("libvirt", lambda c: _libvirt_networks(c.libvirt)),
    Finder("podman", lambda c: _podman_containers()),
    Finder("podman", lambda c: _podman_networks()),
    # Before processes, cgroups and mounts: node 2's dockerd stops first, and its leftovers go
    # with it. Host-wide: node 2 is found even when node 1's dockerd does not answer.
    Finder("host", lambda c: _swarm(c.docker)),
    Finder("host", lambda c: _processes()),
    Finder("host", lambda c: _cgroups()),
    Finder("host", lambda c: _mounts()),
    Finder("host", lambda c: _work_dirs()),
)


def _reachable(source: str, clients: Clients) -> bool:
    if source == "docker":
        return clients.docker is not None
    if source == "libvirt":
        return clients.libvirt is not None
    if source == "podman":
        return shutil.which(PODMAN) is not None  # daemonless: asked only where installed
    return True


def find(docker_client: Any = None, conn: Any = None, *, include_alive: bool = False) -> Sweep:
    """Leftovers of dead runs everywhere we can look; the daemons are optional.

    include_alive also lists what live runs hold (for leak checks; never for removal)."""
    clients = Clients(docker_client, conn)
    found: list[Leftover] = []
    unreachable: list[str] = [s for s in ("docker", "libvirt") if not _reachable(s, clients)]
    for finder in FINDERS:
        if finder.source in unreachable or not _reachable(finder.source, clients):
            continue
        try:
            found += finder.find(clients)
        except BenchError:
            if finder.source not in unreachable:
                unreachable.append(finder.source)
    if not include_alive:
        found = [x for x in found if not labels.run_is_alive(x.run_id)]
    return Sweep(found, unreachable)


def collect(sweep: Sweep) -> Sweep:
    """Remove what find() found, in its order (instances before what they used), then the
    owner records of dead runs that have nothing left."""
    for item in sweep.found:
        try:
            item.remove()
        except Exception as exc:
            sweep.failed.append(f"{item.describe()}: {exc}")
    labels.forget_dead_owners()
    return sweep


def reap(docker_client: Any = None, conn: Any = None) -> Sweep:
    """Like testcontainers' reaper: what runs whose owners are gone left behind (a SIGKILLed
    run's instances, a container a dead dockerd kept), removed before a run measures. A live
    run's things are never found, so a concurrent run's instances are safe."""
    return collect(find(docker_client, conn))


def _containers(client: Any) -> list[Leftover]:
    found = []
    for c in client.containers.list(all=True, filters={"label": labels.RUN_LABEL}):
        remove = partial(c.remove, force=True, v=True)
        found.append(Leftover("container", c.name, c.labels[labels.RUN_LABEL], remove))
    return found


def _swarm(docker_client: Any) -> list[Leftover]:
    """The orchestration experiment's two-node swarm: node 1's membership, node 2 (its
    dockerd, containers, mounts, cgroups, namespace) and the bridge (bench.platforms.swarm)."""
    return [Leftover(f.kind, f.name, f.run_id, f.remove) for f in swarm.leftovers(docker_client)]


def _podman_containers() -> list[Leftover]:
    return [
        Leftover("podman container", name, run_id, partial(podman.remove_container, name))
        for name, run_id in podman.gc_containers()
        if labels.is_run_id(run_id)
    ]


def _podman_networks() -> list[Leftover]:
    return [
        Leftover("podman network", name, run_id, partial(podman.remove_network, name))
        for name, run_id in podman.gc_networks()
        if labels.is_run_id(run_id)
    ]


def _docker_networks(client: Any) -> list[Leftover]:
    found = []
    for n in client.networks.list(filters={"label": labels.RUN_LABEL}):
        found.append(
            Leftover("docker network", n.name, n.attrs["Labels"][labels.RUN_LABEL], n.remove)
        )
    return found


def domain_run_id(domain: Any) -> str | None:
    """The run id in a domain's vcbench metadata; None for any domain we did not make."""
    import libvirt

    if labels.run_of(domain.name()) is None:
        return None
    try:
        element = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, labels.METADATA_URI)
    except libvirt.libvirtError:
        return None
    run_id = ET.fromstring(element).get("run", "")
    return run_id if labels.is_run_id(run_id) else None


def _domains(conn: Any) -> list[Leftover]:
    found = []
    for dom in conn.listAllDomains():
        run_id = domain_run_id(dom)
        if run_id:
            found.append(
                Leftover("domain", dom.name(), run_id, partial(_destroy_and_undefine, dom))
            )
    return found


def _destroy_and_undefine(obj: Any) -> None:
    """A libvirt domain or network: stop it if running, forget it if defined.

    Destroying a transient one also undefines it, so "not found" afterwards (or because
    someone else removed it meanwhile) is the goal reached, not a failure."""
    import libvirt

    try:
        if obj.isActive():
            obj.destroy()
        if obj.isPersistent():
            obj.undefine()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK):
            raise


def _libvirt_networks(conn: Any) -> list[Leftover]:
    found = []
    for net in conn.listAllNetworks():
        run_id = labels.run_of(net.name())
        # libvirt 9.0 networks carry no metadata: ours also have the bridge their run id names
        if run_id is None or _bridge_of(net) != network.bridge_name(run_id):
            continue
        if net.name() == network.network_name(run_id):
            remove = partial(_destroy_and_undefine, net)
            found.append(Leftover("libvirt network", net.name(), run_id, remove))
    return found


def _bridge_of(net: Any) -> str:
    import libvirt

    try:
        return str(net.bridgeName())
    except libvirt.libvirtError:
        return ""


def _processes() -> list[Leftover]:
    found = []
    for run_id, tagged in procs.tagged(procs.RUN_VAR).items():
        if labels.is_run_id(run_id):
            found += [
                Leftover("process", f"pid {p.pid}", run_id, partial(procs.kill, [p]))
                for p in tagged
            ]
    return found


def _cgroups() -> list[Leftover]:
    found = []
    for path in cgroup.leftovers():
        run_id = labels.run_of(path.name)
        if run_id:
            found.append(Leftover("cgroup", str(path), run_id, partial(cgroup.remove, path)))
    return found


def _mounts() -> list[Leftover]:
    """Mounts under the runs' work dirs (native mounts live in private namespaces; this
    catches any that escaped, deepest first so parents unmount after their children)."""
    roots = labels.runs_roots()
    found = []
    for point in sorted(_mount_points(), key=lambda p: -len(p.parts)):
        run_id = _run_dir_of(point, roots)
        if labels.is_run_id(run_id):
            unmount = partial(run, ["umount", "-l", point])
            found.append(Leftover("mount", str(point), run_id, unmount))
    return found


def _run_dir_of(point: Path, roots: list[Path]) -> str:
    """The first path component below whichever runs root holds point ("" if none does)."""
    for root in roots:
        if point.is_relative_to(root) and point != root:
            return point.relative_to(root).parts[0]
    return ""


def _mount_points() -> Iterator[Path]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        yield Path(line.split()[4].replace("\\040", " "))


def _work_dirs() -> list[Leftover]:
    """Instance dirs (overlays, chroot upper dirs) of dead runs; their logs are kept."""
    run_dirs = [d for root in labels.runs_roots() if root.is_dir() for d in sorted(root.iterdir())]
    found = []
    for run_dir in run_dirs:
        instances = run_dir / "instances"
        if labels.is_run_id(run_dir.name) and any(instances.glob("*")):
            remove = partial(shutil.rmtree, instances)
            found.append(Leftover("work dir", str(instances), run_dir.name, remove))
    return found
