"""A two-node Docker Swarm on one host, made and removed by a run (the orchestration experiment).

Node 1 is the host's dockerd (the only manager); node 2 a second dockerd (a worker) in a
network namespace of its own, with its own data-root, exec-root, pidfile, socket, cgroup
parent and address on a bridge the run creates. Both advertise on that bridge, so swarm
traffic never leaves the run's own addresses. The vcbench image reaches node 2 by
`docker save | docker load`: there is no registry.

Everything is named from the run id (labels.py) so that `vcbench gc` finds it after a crash:
the namespace and node 2's exec-root by name, the bridge by its alias, node 2's processes by
their VCBENCH_RUN environment, its data under the run's instances dir, its cgroups under a
vcbench-named parent, the swarm by its spec's label. `leftovers()` is gc's finder.

Nodes join with `nsenter --net` (not `ip netns exec`, which remounts /sys and so hides the
cgroup mounts a dockerd needs).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.core.errors import PlatformError, first_line
from bench.core.proc import run
from bench.platforms import cgroup, labels, lifecycle, procs

SUBNET_POOL = ipaddress.IPv4Network("10.214.0.0/16")  # beside network.py's libvirt pool
SWARM_PORTS = (("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789))
CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")
ALIAS_FILE = "ifalias"
NODE2 = "swarm2"  # the names' suffix: vcbench-<run>-swarm2
GWBRIDGE = "docker_gwbridge"
# docker_gwbridge's own label: not RUN_LABEL, so gc's network finder leaves it to this one,
# which removes it after the swarm is left (while the swarm runs, it is in use)
GWBRIDGE_LABEL = "vcbench.swarm"
GWBRIDGE_OPTIONS = {
    "com.docker.network.bridge.name": GWBRIDGE,
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
}


@dataclass(frozen=True)
class Layout:
    """Every name and path of one run's swarm, from the run id and its work dir alone."""

    run_id: str
    work_dir: Path

    @property
    def namespace(self) -> str:
        return labels.resource_name(self.run_id, NODE2)

    @property
    def bridge(self) -> str:
        """15 characters at most: a digest of the run id (its alias holds the whole name)."""
        return "vcs" + hashlib.sha1(self.run_id.encode()).hexdigest()[:8]

    @property
    def veth(self) -> str:
        return self.bridge + "h"

    @property
    def exec_root(self) -> Path:
        return Path("/run") / self.namespace  # short: containerd's socket lives under it

    @property
    def socket(self) -> Path:
        return self.exec_root.with_name(self.namespace + ".sock")

    @property
    def containerd_socket(self) -> Path:
        return self.exec_root / "containerd.sock"

    @property
    def node_dir(self) -> Path:
        """Data-root, pidfile, config and log: in the run's instances dir, which gc sweeps."""
        return self.work_dir / "instances" / NODE2

    @property
    def log_dir(self) -> Path:
        """Node 2's daemons' logs: kept with the run's logs after its data is gone."""
        return self.work_dir / "logs"

    @property
    def cgroup_parent(self) -> str:
        return self.namespace


def pick_subnet(run_id: str, used: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """A /24 of the pool no host interface is on, starting at one the run id picks."""
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    start = int(hashlib.sha1(run_id.encode()).hexdigest(), 16) % len(candidates)
    for subnet in candidates[start:] + candidates[:start]:
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise PlatformError(f"no free /24 in {SUBNET_POOL} for the swarm's bridge")


def host_subnets() -> list[ipaddress.IPv4Network]:
    return [
        ipaddress.IPv4Interface(f"{a.address}/{a.netmask}").network
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and a.netmask
    ]


def port_taken(address: str, proto: str, port: int) -> bool:
    """True when something already holds the port on the address (or on every address)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False


# --- node 2: a dockerd in a network namespace -------------------------------------------------


def containerd_config(layout: Layout) -> str:
    """Node 2's own containerd: its root, state and sockets; no CRI (nothing of Kubernetes)."""
    state = layout.exec_root / "containerd-state"
    return "\n".join(
        [
            "version = 2",
            f'root = "{layout.node_dir / "containerd"}"',
            f'state = "{state}"',
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
            "[grpc]",
            f'  address = "{layout.containerd_socket}"',
            "[ttrpc]",
            f'  address = "{layout.containerd_socket}.ttrpc"',
            "",
        ]
    )


def containerd_argv(layout: Layout) -> list[str]:
    return [
        "nsenter",
        f"--net={NETNS_DIR / layout.namespace}",
        "containerd",
        "--config",
        str(layout.node_dir / "containerd.toml"),
    ]


def dockerd_argv(layout: Layout) -> list[str]:
    """Node 2's dockerd, on its own containerd: the host's dockerd uses the system one, and
    two daemons in one containerd namespace would see each other's containers."""
    return [
        "nsenter",
        f"--net={NETNS_DIR / layout.namespace}",
        "dockerd",
        "--containerd",
        str(layout.containerd_socket),
        "--config-file",
        str(layout.node_dir / "daemon.json"),
        "--data-root",
        str(layout.node_dir / "data"),
        "--exec-root",
        str(layout.exec_root),
        "--pidfile",
        str(layout.node_dir / "dockerd.pid"),
        "--host",
        f"unix://{layout.socket}",
        "--cgroup-parent",
        layout.cgroup_parent,
    ]


def node_processes(layout: Layout) -> list[psutil.Process]:
    """Node 2's dockerd, its containerd and shims (tagged by environment), and the containers'
    processes (in its cgroup parent): everything node 2 runs."""
    found = {p.pid: p for p in procs.tagged(procs.RUN_VAR).get(layout.run_id, [])}
    found = {pid: p for pid, p in found.items() if _is_node2(p, layout)}
    for directory in _cgroup_dirs(layout.cgroup_parent):
        for pid in cgroup.pids_in(directory):
            with contextlib.suppress(psutil.Error):
                found.setdefault(pid, psutil.Process(pid))
    return list(found.values())


def _is_node2(process: psutil.Process, layout: Layout) -> bool:
    try:
        return process.environ().get(NODE_VAR) == layout.namespace
    except psutil.Error:
        return False


NODE_VAR = "VCBENCH_SWARM_NODE"
OFFLINE_VAR = "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"


def kill_node(layout: Layout) -> int:
    """SIGKILL everything node 2 runs, as a machine losing power would; how many processes."""
    victims = node_processes(layout)
    for process in victims:
        with contextlib.suppress(psutil.Error):
            process.kill()
    for process in victims:
        with contextlib.suppress(psutil.Error):
            process.wait(5)
    return len(victims)


def _cgroup_dirs(parent: str) -> list[Path]:
    """The parent's directory in every cgroup hierarchy, its children deepest first."""
    if not CGROUP_ROOT.is_dir():
        return []
    found: list[Path] = []
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / parent
        if top.is_dir() and not top.is_symlink():
            found += sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            found.append(top)
    return found


def remove_cgroups(parent: str) -> None:
    for directory in _cgroup_dirs(parent):
        cgroup.remove(directory)


def unmount_under(root: Path) -> None:
    """Node 2's overlay and shm mounts live in the host's mount namespace: deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].replace("\\040", " "))
        if point.is_relative_to(root):
            points.append(point)
    for point in sorted(points, key=lambda p: -len(p.parts)):
        run(["umount", "-l", point], check=False)


# --- the network ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Addresses:
    subnet: ipaddress.IPv4Network

    @property
    def node1(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def node2(self) -> str:
        return str(self.subnet.network_address + 2)

    @property
    def prefix(self) -> int:
        return self.subnet.prefixlen


def make_network(layout: Layout, addresses: Addresses) -> None:
    """The bridge (node 1's address on it), the namespace, and a veth pair between them."""
    ip = ["ip"]
    run([*ip, "link", "add", layout.bridge, "type", "bridge"])
    run([*ip, "link", "set", layout.bridge, "alias", layout.namespace])
    run([*ip, "addr", "add", f"{addresses.node1}/{addresses.prefix}", "dev", layout.bridge])
    run([*ip, "link", "set", layout.bridge, "up"])
    run([*ip, "netns", "add", layout.namespace])
    ns = ["ip", "-n", layout.namespace]
    run([*ip, "link", "add", layout.veth, "type", "veth", "peer", "name", "eth0", "netns",
         layout.namespace])  # fmt: skip
    run([*ip, "link", "set", layout.veth, "master", layout.bridge, "up"])
    run([*ns, "addr", "add", f"{addresses.node2}/{addresses.prefix}", "dev", "eth0"])
    run([*ns, "link", "set", "eth0", "up"])
    run([*ns, "link", "set", "lo", "up"])
    run([*ns, "route", "add", "default", "via", addresses.node1])


def check_vxlan(layout: Layout) -> None:
    """Swarm's overlay is VXLAN: make (and drop) one link inside node 2's namespace."""
    ns = ["ip", "-n", layout.namespace, "link"]
    made = run([*ns, "add", "vcbvx0", "type", "vxlan", "id", "42", "dstport", "4789"], check=False)
    if made.returncode != 0:
        raise PlatformError(
            f"the kernel cannot make a VXLAN link ({_first(made.stderr) or 'no reason'}),"
            " which Swarm's overlay needs",
            "load the vxlan module (modprobe vxlan) or leave out the orchestration experiment",
        )
    run([*ns, "del", "vcbvx0"], check=False)


def remove_network(layout: Layout) -> None:
    run(["ip", "netns", "delete", layout.namespace], check=False)
    run(["ip", "link", "delete", layout.bridge], check=False)


# --- the swarm --------------------------------------------------------------------------------


def leave(client: Any) -> None:
    """Leave the swarm (force: a lone manager), then drop the docker_gwbridge it leaves."""
    with contextlib.suppress(Exception):
        client.swarm.leave(force=True)
    remove_gwbridge(client)


def remove_gwbridge(client: Any) -> None:
    with contextlib.suppress(Exception):  # gone already
        client.networks.get(GWBRIDGE).remove()


def make_gwbridge(client: Any, run_id: str) -> None:
    """docker_gwbridge made before `swarm init` (Docker's documented way to choose its
    settings), with a label: a crash between leaving and removing it leaves it findable. One
    an earlier swarm left (`swarm leave` keeps it) is used as it is, and removed with ours."""
    if client.networks.list(names=[GWBRIDGE]):
        return
    client.networks.create(
        GWBRIDGE, driver="bridge", options=GWBRIDGE_OPTIONS, labels={GWBRIDGE_LABEL: run_id}
    )


def swarm_run(client: Any) -> str | None:
    """The run id whose label the daemon's swarm carries; None for another swarm, or none, or
    a worker (which cannot read the swarm's spec: node 2 is found by its namespace)."""
    info = client.info().get("Swarm", {})
    if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
        return None
    client.swarm.reload()
    spec = client.swarm.attrs.get("Spec", {})
    run_id = (spec.get("Labels") or {}).get(labels.RUN_LABEL, "")
    return run_id if labels.is_run_id(run_id) else None


def swarm_state(client: Any) -> str:
    return str(client.info().get("Swarm", {}).get("LocalNodeState", ""))


class Node2:
    """Node 2's dockerd: started, stopped, killed and started again (the node-failure repeats)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.process: subprocess.Popen[bytes] | None = None  # dockerd
        self.containerd: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    def start(self, timeout: float = 90.0) -> None:
        self.layout.node_dir.mkdir(parents=True, exist_ok=True)
        self.layout.exec_root.mkdir(parents=True, exist_ok=True)
        (self.layout.node_dir / "daemon.json").write_text(json.dumps({}))
        (self.layout.node_dir / "containerd.toml").write_text(containerd_config(self.layout))
        self.containerd = self._spawn(containerd_argv(self.layout), "containerd.log")
        _wait(self.layout.containerd_socket.exists, timeout, "node 2's containerd socket")
        self.process = self._spawn(dockerd_argv(self.layout), "dockerd.log")
        self._wait_answering(timeout)

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, procs.RUN_VAR: self.layout.run_id, NODE_VAR: self.layout.namespace}
        env[OFFLINE_VAR] = "1"  # no pull attempt before a task (services name an ID anyway)
        env.pop("DOCKER_HOST", None)
        self.layout.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.layout.log_dir / f"{NODE2}-{log_name}"
        with open(path, "ab") as log, lifecycle.shielded():
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,  # a Ctrl-C at the terminal is ours to handle, not its
            )

    def _wait_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise PlatformError(f"node 2's dockerd exited at start: {self._log_tail()}")
            with contextlib.suppress(Exception):
                self.client().ping()
                return
            if time.monotonic() >= deadline:
                raise PlatformError(f"node 2's dockerd did not answer in {timeout:.0f} s")
            time.sleep(0.2)

    def _log_tail(self) -> str:
        try:
            path = self.layout.log_dir / f"{NODE2}-dockerd.log"
            lines = path.read_text().strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1][-200:] if lines else "no log"

    def client(self) -> Any:
        import docker

        if self._client is None:
            self._client = docker.DockerClient(base_url=f"unix://{self.layout.socket}", timeout=60)
        return self._client

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> int:
        """Node 2 dies at once: its dockerd, containerd, shims and containers, SIGKILL."""
        count = kill_node(self.layout)
        self._reap()
        return count

    def stop(self) -> None:
        """A clean stop (its containers stopped by its own dockerd), then anything left
        killed, its mounts and cgroups removed."""
        for process in (self.process, self.containerd):  # dockerd first: it stops its tasks
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(30)
        kill_node(self.layout)
        self._reap()
        unmount_under(self.layout.node_dir)
        unmount_under(self.layout.exec_root)
        remove_cgroups(self.layout.cgroup_parent)

    def _reap(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        for process in (self.process, self.containerd):
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)


def remove_node_files(layout: Layout) -> None:
    shutil.rmtree(layout.node_dir, ignore_errors=True)
    shutil.rmtree(layout.exec_root, ignore_errors=True)
    layout.socket.unlink(missing_ok=True)


def load_image(tag: str, layout: Layout, timeout: float = 600.0) -> float:
    """`docker save TAG | docker -H node2 load`; the seconds it took."""
    started = time.perf_counter()
    docker = shutil.which("docker") or "docker"
    save = subprocess.Popen([docker, "save", tag], stdout=subprocess.PIPE)
    try:
        loaded = subprocess.run(
            [docker, "-H", f"unix://{layout.socket}", "load", "-q"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        if save.stdout is not None:
            save.stdout.close()
        save.wait(timeout)
    if save.returncode != 0 or loaded.returncode != 0:
        raise PlatformError(
            f"could not load {tag} on node 2 ({_first(loaded.stderr) or 'docker save failed'})",
            "check `docker image inspect` of the tag and node 2's log",
        )
    return time.perf_counter() - started


def offline_image(host: Any, tag: str) -> str:
    """The image as services must name it: by its ID. Swarm's executor tries to pull a
    tagged image before every task, registry or not (a pull that goes nowhere here, for
    seconds, and traffic that must not leave the host); an image ID it never pulls. `docker
    load` keeps the ID, so it names the same image on both nodes."""
    return str(host.images.get(tag).id)


# --- the whole cluster ------------------------------------------------------------------------


@dataclass
class Cluster:
    """The swarm as made: node 1's client, node 2, the addresses, the worker's node id."""

    layout: Layout
    addresses: Addresses
    host: Any  # node 1's docker client
    node2: Node2
    setup: dict[str, float]

    def node_address(self, node_id: str) -> str:
        return self.addresses.node1 if node_id == self.node_ids()[0] else self.addresses.node2

    def node_ids(self) -> tuple[str, str]:
        """(node 1's id, node 2's id), node 2's as the manager knows it."""
        manager = str(self.host.info()["Swarm"]["NodeID"])
        others = [n.id for n in self.host.nodes.list() if n.id != manager]
        return manager, (others[0] if others else "")

    def node_ready(self, node_id: str) -> bool:
        try:
            node = self.host.nodes.get(node_id)
        except Exception:
            return False
        return str(node.attrs.get("Status", {}).get("State")) == "ready"

    def restart_node2(self, timeout: float = 120.0) -> None:
        """Bring node 2 back after a failure (same data-root: it rejoins by itself)."""
        self.node2.start(timeout)
        _wait(lambda: self.node_ready(self.node_ids()[1]), timeout, "node 2 to rejoin the swarm")


def _wait(done: Callable[[], bool], timeout: float, what: str, period: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            raise PlatformError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(period)


def preflight(host: Any, address: str) -> None:
    """The reasons a swarm cannot form here, each in one line, before anything is made."""
    state = swarm_state(host)
    if state not in ("inactive", ""):
        raise PlatformError(
            f"dockerd is already in a swarm (state {state})",
            "leave it (`docker swarm leave --force`) or run `vcbench gc`",
        )
    for proto, port in SWARM_PORTS:
        if port_taken(address, proto, port):
            raise PlatformError(
                f"{proto} port {port} is taken on the host, and Swarm needs it",
                "free the port or leave out the orchestration experiment",
            )


@contextlib.contextmanager
def two_nodes(host: Any, run_ctx: labels.RunContext, image: str) -> Iterator[Cluster]:
    """Make the swarm, yield it, and always take it apart: both nodes leave, node 2 stops,
    its data, the namespace and the bridge go (each release runs even if another fails)."""
    layout = Layout(run_ctx.run_id, run_ctx.work_dir)
    addresses = Addresses(pick_subnet(layout.run_id, host_subnets()))
    setup: dict[str, float] = {}
    with lifecycle.Resources() as res:
        t = time.perf_counter()
        res.defer(lambda: remove_network(layout))
        make_network(layout, addresses)
        check_vxlan(layout)
        preflight(host, addresses.node1)
        node2 = Node2(layout)
        # each undo is registered before its step: a step cut short is undone all the same
        res.defer(lambda: remove_node_files(layout))
        res.defer(node2.stop)
        node2.start()
        setup["node2-start-s"] = time.perf_counter() - t
        setup["image-load-s"] = load_image(image, layout)
        t = time.perf_counter()
        res.defer(lambda: leave_host(host, layout.run_id))
        make_gwbridge(host, layout.run_id)
        _init(host, addresses, layout.run_id)
        res.defer(lambda: _leave_node2(node2))
        _join(host, node2, addresses)
        cluster = Cluster(layout, addresses, host, node2, setup)
        _wait(lambda: cluster.node_ready(cluster.node_ids()[1]), 60, "node 2 to be ready")
        setup["swarm-form-s"] = time.perf_counter() - t
        yield cluster


def leave_host(host: Any, run_id: str) -> None:
    """Node 1 leaves: the run's services first, then the swarm, then any task container of
    the run still there (a forced leave may not wait for its tasks to stop)."""
    with contextlib.suppress(Exception):
        for service in host.services.list(filters={"label": f"{labels.RUN_LABEL}={run_id}"}):
            service.remove()
    leave(host)
    with contextlib.suppress(Exception):
        for c in host.containers.list(all=True, filters={"label": f"{labels.RUN_LABEL}={run_id}"}):
            if "com.docker.swarm.task.id" in c.labels:
                c.remove(force=True)


def _leave_node2(node2: Node2) -> None:
    if node2.alive():
        leave(node2.client())


def _init(host: Any, addresses: Addresses, run_id: str) -> None:
    try:
        host.swarm.init(
            advertise_addr=addresses.node1,
            listen_addr=f"{addresses.node1}:2377",
            labels={labels.RUN_LABEL: run_id},
        )
    except Exception as exc:
        raise PlatformError(f"docker swarm init failed: {_explain(exc)}") from None


def _join(host: Any, node2: Node2, addresses: Addresses) -> None:
    token = host.swarm.attrs["JoinTokens"]["Worker"]
    try:
        node2.client().swarm.join(
            [f"{addresses.node1}:2377"],
            token,
            listen_addr=f"{addresses.node2}:2377",
            advertise_addr=addresses.node2,
        )
    except Exception as exc:
        raise PlatformError(f"node 2 could not join the swarm: {_explain(exc)}") from None


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return _first(str(explanation)) if explanation else first_line(exc)


def _first(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


# --- gc -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    kind: str
    name: str
    run_id: str
    remove: Callable[[], object]


def leftovers(host: Any) -> list[Found]:
    """Every swarm thing a run left (its run may be alive: gc filters), in removal order:
    node 1's swarm membership, node 2's processes, mounts and cgroups, the namespace, the
    bridge, node 2's exec-root. Node 2's data sits in the run's instances dir (gc's own)."""
    found: list[Found] = []
    if host is not None:
        with contextlib.suppress(Exception):
            run_id = swarm_run(host)
            if run_id:
                node1 = "node 1 (the host's dockerd)"
                found.append(Found("swarm", node1, run_id, partial_leave(host, run_id)))
        with contextlib.suppress(Exception):
            for net in host.networks.list(names=[GWBRIDGE], filters={"label": GWBRIDGE_LABEL}):
                run_id = str(net.attrs.get("Labels", {}).get(GWBRIDGE_LABEL, ""))
                if labels.is_run_id(run_id):
                    found.append(Found("swarm network", GWBRIDGE, run_id, partial_gwbridge(host)))
    for run_id, layout in _layouts().items():
        found.append(Found("swarm node 2", layout.namespace, run_id, partial_stop(layout)))
    for name, run_id in _bridges():
        found.append(Found("swarm bridge", name, run_id, partial_delete_link(name)))
    return found


def _layouts() -> dict[str, Layout]:
    """Runs with a node 2 namespace, exec-root, socket or cgroup parent on the host."""
    names: set[str] = set()
    if NETNS_DIR.is_dir():
        names |= {p.name for p in NETNS_DIR.iterdir()}
    names |= {p.name.removesuffix(".sock") for p in Path("/run").glob(labels.PREFIX + "*")}
    if CGROUP_ROOT.is_dir():
        for hierarchy in CGROUP_ROOT.iterdir():
            with contextlib.suppress(OSError):
                names |= {p.name for p in hierarchy.glob(labels.PREFIX + "*")}
    found: dict[str, Layout] = {}
    for name in names:
        run_id = labels.run_of(name)
        if run_id and name == labels.resource_name(run_id, NODE2):
            found[run_id] = Layout(run_id, _work_dir(run_id))
    return found


def _work_dir(run_id: str) -> Path:
    for root in labels.runs_roots():
        if (root / run_id).is_dir():
            return root / run_id
    return labels.runs_root() / run_id


def partial_gwbridge(host: Any) -> Callable[[], None]:
    return lambda: remove_gwbridge(host)


def partial_leave(host: Any, run_id: str) -> Callable[[], None]:
    return lambda: leave_host(host, run_id)


def partial_stop(layout: Layout) -> Callable[[], None]:
    def stop() -> None:
        Node2(layout).stop()
        remove_network(layout)
        shutil.rmtree(layout.exec_root, ignore_errors=True)
        layout.socket.unlink(missing_ok=True)

    return stop


def _bridges() -> list[tuple[str, str]]:
    """Bridges whose alias names a run's node 2 (the name itself is only a digest)."""
    found = []
    for link in Path("/sys/class/net").iterdir() if Path("/sys/class/net").is_dir() else []:
        try:
            alias = (link / ALIAS_FILE).read_text().strip()
        except OSError:
            continue
        run_id = labels.run_of(alias)
        if run_id and alias == labels.resource_name(run_id, NODE2) and link.name.startswith("vcs"):
            found.append((link.name, run_id))
    return found


def partial_delete_link(name: str) -> Callable[[], object]:
    return lambda: run(["ip", "link", "delete", name], check=False)
