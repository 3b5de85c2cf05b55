"""The Docker platform: the imported rootfs image, limits as cpus/cpuset/memory, the SDK."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import psutil

from bench.core import dockerd
from bench.core.errors import DaemonLost, PlatformError, first_line
from bench.core.platform_names import NET_BRIDGE
from bench.host.cgroupfs import locate
from bench.platforms import cgroup, lifecycle, network
from bench.platforms.docker_stream import Demux, read_all
from bench.platforms.labels import INSTANCE_LABEL, RUN_LABEL
from bench.platforms.output import MarkerLog, pump_until_ready
from bench.platforms.protocol import (
    KEEPER,
    ExecResult,
    Instance,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
    Startup,
    exec_timed_out,
)

API_TIMEOUT_S = 60
LOST_HINT = "run `vcbench host setup` to start it again, then `vcbench run --resume RUN`"
START_HINT = "see `vcbench doctor` and the dockerd log (journalctl -u docker, or vcbench's own log)"


def connect() -> Any:
    return dockerd.connect(API_TIMEOUT_S, DaemonLost)


@contextmanager
def dockerd_calls() -> Iterator[None]:
    """A dockerd that stopped answering is DaemonLost, not whatever the SDK's transport says."""
    import requests

    try:
        yield
    except (requests.exceptions.ConnectionError, ConnectionError) as exc:
        raise DaemonLost(f"dockerd went away ({first_line(exc)})", LOST_HINT) from exc


class GuardedApi:
    """The SDK's low-level client, every call made under dockerd_calls."""

    def __init__(self, api: Any) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if not callable(attr):
            return attr
        return _guarded(attr)


def _guarded(call: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with dockerd_calls():
            return call(*args, **kwargs)

    return guarded


class DockerInstance(Instance):
    platform = "docker"

    def __init__(self, name: str, limits: Limits, log: MarkerLog, client: Any, cid: str) -> None:
        super().__init__(name, limits, log.path)
        self._api = GuardedApi(client.api)
        self.container_id = cid

    def pause(self) -> None:
        self._api.pause(self.container_id)  # the cgroup freezer: nothing inside runs

    def resume(self) -> None:
        self._api.unpause(self.container_id)

    def set_limits(self, limits: Limits) -> list[str]:
        """`docker update`: the cgroup files change at once; the new cpuset shows in nproc."""
        import docker

        # The raw endpoint: the SDK's update_container has no NanoCpus, and docker refuses a
        # CpuQuota update on a container created with NanoCpus (as ours are).
        body = {
            "CpusetCpus": limits.cpuset_text,
            "NanoCpus": limits.vcpus * 10**9,
            "Memory": limits.memory_mib * 2**20,
            "MemorySwap": limits.memory_mib * 2**20,  # no swap beyond the limit, as at create
        }
        url = self._api._url("/containers/{0}/update", self.container_id)
        try:
            self._api._result(self._api._post_json(url, data=body), True)
        except docker.errors.APIError as exc:
            raise PlatformError(f"{self.name}: docker update refused: {exc.explanation}") from exc
        self.limits = limits
        return []

    def oom_kills(self) -> int | None:

        state = self._api.inspect_container(self.container_id)["State"]
        try:
            memory = locate(int(state.get("Pid") or 0)).memory
        except (OSError, ValueError):
            return None  # the container is gone: nothing to attribute
        return cgroup.oom_kills(memory.path) if memory else None

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        started = time.perf_counter()
        exec_id = self._api.exec_create(self.container_id, list(argv))["Id"]
        sock = self._api.exec_start(exec_id, socket=True)
        try:
            with dockerd_calls():  # the stream ends, or breaks, when dockerd dies
                streams = read_all(sock.fileno(), started + timeout, self._still_running)
            if streams is None:
                self._kill_exec(exec_id)
                raise exec_timed_out(self.name, argv, timeout)
        finally:
            sock.close()
        code = self._api.exec_inspect(exec_id)["ExitCode"]
        wall = time.perf_counter() - started
        out, err = streams
        return ExecResult(out.decode(errors="replace"), err.decode(errors="replace"), code, wall)

    def _still_running(self) -> bool:
        """runc's exec stream ends when the container dies: nothing to ask dockerd."""
        return True

    def _kill_exec(self, exec_id: str) -> None:
        """Docker has no way to stop one exec: kill its host process and what it spawned."""
        _kill_tree(self._api.exec_inspect(exec_id).get("Pid", 0))


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        for proc in [*root.children(recursive=True), root]:
            proc.kill()
    except psutil.Error:
        pass  # it ended by itself meanwhile


class DockerPlatform(Platform):
    name = "docker"
    runtime: ClassVar[str | None] = None  # dockerd's default OCI runtime (runc)
    # bridge (the run's internal network, reached at the container's address), nat (ports
    # published on the host, reached through Docker's DNAT) or host (--network host): see
    # bench/core/platform_names.py; the variants are made in registry.py.
    network_mode: ClassVar[str] = NET_BRIDGE
    instance_type: ClassVar[type[DockerInstance]] = DockerInstance

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config)
        self._client: Any = None
        self._network: Any = None

    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        import docker.errors

        with dockerd_calls():
            try:
                return self._start_container(name, spec, res)
            except docker.errors.APIError as exc:
                # dockerd answered and refused (a missing AppArmor parser, a runtime that
                # failed): this instance cannot start, a start-failed trial, not a crashed run.
                why = " ".join(str(exc.explanation or "").split()) or first_line(exc)
                raise PlatformError(
                    f"{name}: dockerd could not start the container ({why})", START_HINT
                ) from exc

    def _network_name(self) -> str:
        if self.network_mode == "host":
            return "host"
        if self._network is None:
            with lifecycle.shielded():
                self._network = network.create_docker_network(
                    self.client(),
                    self.config.run.run_id,
                    self.name,
                    internal=self.network_mode != "nat",
                )
        return str(self._network.name)

    def _published(self, ports: Sequence[int]) -> dict[str, tuple[str, None]] | None:
        """docker-nat's port map: each port on the bridge's host address, at a port Docker
        picks. Not the same number: docker-proxy holds the host side of a published port,
        and native or docker-hostnet servers of the same run listen on the host's own."""
        if self.network_mode != "nat" or not ports:
            return None
        gateway = self._gateway()
        return {f"{port}/tcp": (gateway, None) for port in ports}

    def _gateway(self) -> str:
        """The host's address on the run's bridge: a local address, so the host's own
        connections to it go through the DNAT rules Docker writes for published ports."""
        self._network.reload()
        return str(self._network.attrs["IPAM"]["Config"][0]["Gateway"])

    def _client_address(self, container: Any, net: str) -> str:
        if self.network_mode == "host":
            return "127.0.0.1"
        if self.network_mode == "nat":
            return self._gateway()
        return str(container.attrs["NetworkSettings"]["Networks"][net]["IPAddress"])

    def _start_container(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        client = self.client()
        net = self._network_name()
        log = res.acquire(
            lambda: MarkerLog(self.config.run.log_dir / f"{name}.log", name), MarkerLog.close
        )
        started = time.perf_counter()
        container = res.acquire(
            lambda: self._create(name, spec.limits, net, spec.ports), self._remove
        )
        # Attach before start: the marker cannot be printed before we listen.
        sock = res.acquire(lambda: client.api.attach_socket(container.id, params=_ATTACH), _close)
        container.start()
        running = time.perf_counter()
        ready = pump_until_ready(sock.fileno(), log, spec.ready_timeout_s, started, Demux().merged)
        instance = self.instance_type(name, spec.limits, log, client, container.id)
        instance.accel = self.accel()
        instance.startup = Startup(running - started, ready - running)
        container.reload()
        instance.address = self._client_address(container, net)
        if self.network_mode == "nat":
            instance.published = _host_ports(container.attrs)
        return instance

    def accel(self) -> str:
        """What the instance's code runs on, carried on every trial and sample."""
        return "host"

    def _remove(self, container: Any) -> None:
        try:
            with dockerd_calls():
                container.remove(force=True, v=True)
        except DaemonLost:
            pass  # dockerd is gone: the container waits for `vcbench gc` or --resume

    def _create(self, name: str, limits: Limits, net: str, ports: Sequence[int] = ()) -> Any:
        import docker

        tag = self.config.images.docker_tag
        try:
            return self._create_container(name, limits, net, ports)
        except docker.errors.ImageNotFound as exc:
            raise PlatformError(
                f"Docker image {tag} is missing", "run `vcbench images build`"
            ) from exc
        except docker.errors.APIError as exc:
            raise PlatformError(f"docker could not create {name}: {exc.explanation}") from exc

    def _create_container(
        self, name: str, limits: Limits, net: str, ports: Sequence[int] = ()
    ) -> Any:
        run_id = self.config.run.run_id
        return self.client().containers.create(
            self.config.images.docker_tag,
            KEEPER,
            name=name,
            labels={RUN_LABEL: run_id, INSTANCE_LABEL: name},
            network=net,
            ports=self._published(ports),
            nano_cpus=limits.vcpus * 10**9,
            cpuset_cpus=limits.cpuset_text,
            mem_limit=f"{limits.memory_mib}m",
            memswap_limit=f"{limits.memory_mib}m",  # no swap beyond the limit, as in the VM
            runtime=self.runtime,
            detach=True,
            stdin_open=False,
            tty=False,
        )

    def close(self) -> None:
        if self._network is not None:
            try:
                with dockerd_calls():
                    network.remove_docker_network(self._network)
            except DaemonLost:
                pass  # dockerd is gone: the network waits for `vcbench gc` or --resume
            self._network = None
        if self._client is not None:
            self._client.close()
            self._client = None


_ATTACH = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}


def _host_ports(attrs: dict[str, Any]) -> dict[int, int]:
    """The published ports as Docker bound them: container port -> host port."""
    found: dict[int, int] = {}
    for key, bindings in (attrs["NetworkSettings"].get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if proto == "tcp" and bindings:
            found[int(port)] = int(bindings[0]["HostPort"])
    return found


def _close(sock: Any) -> None:
    sock.close()
