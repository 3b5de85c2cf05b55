"""The Podman platform: root podman, daemonless, the Docker platform's image (loaded from
dockerd's copy, same image id), limits, keeper and labels, driven by its CLI.

No daemon means every call is a new podman process (~0.1 s here): that is Podman's start-up
and exec cost as its users meet it, and it is measured, not hidden.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from bench.core.errors import BenchError, PlatformError
from bench.core.platform_names import NET_BRIDGE
from bench.core.podman_cli import PODMAN, HostInfo, host_info, podman
from bench.core.proc import run
from bench.host.cgroupfs import locate
from bench.images.artifacts import ImageSet
from bench.images.podman_image import image_name
from bench.platforms import cgroup, lifecycle
from bench.platforms.labels import INSTANCE_LABEL, RUN_LABEL, resource_name
from bench.platforms.output import MarkerLog
from bench.platforms.protocol import (
    KEEPER,
    KILL_ALL_BUT_KEEPER,
    ExecResult,
    Instance,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
    Startup,
    exec_timed_out,
)

POLL_S = 0.005  # the marker is read from conmon's log file: this is the clock's resolution
# podman 4.3 lowers its own RLIMIT_NPROC (so conmon's and runc's) to 32768; without
# CAP_SYS_RESOURCE runc cannot give the container more, and podman's default (4194304)
# fails to start at all. The container gets the harness's own limits, capped there.
PODMAN_NPROC_CEILING = 32768


def ulimits() -> list[str]:
    """The harness's own open-file and process limits (what dockerd's containers inherit)."""
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    nproc = PODMAN_NPROC_CEILING if nproc == resource.RLIM_INFINITY else nproc
    nproc = min(nproc, PODMAN_NPROC_CEILING)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def versions(images: ImageSet) -> dict[str, str]:
    """For the fingerprint: podman, its runtime and cgroup manager, the image it runs."""
    info = host_info()
    image = json.loads(podman("image", "inspect", image_name(images.digest)))[0]
    return {
        "podman": info.version,
        "runtime": info.runtime,
        "runtime_default": info.default_runtime,
        "runtime_version": run([info.runtime, "--version"], check=False).stdout.split("\n")[0],
        "cgroup_manager": info.cgroup_manager,
        "cgroup_version": info.cgroup_version,
        "image": image_name(images.digest),
        "image_id": str(image.get("Id", "")),
        "rootfs_label": str((image.get("Labels") or {}).get("vcbench.rootfs", "")),
        "ulimits": " ".join(ulimits()[1::2]),
    }


class PodmanInstance(Instance):
    platform = "podman"

    def pid(self) -> int:
        """The container's init on the host: its /proc/<pid>/cgroup names its cgroups."""
        state = json.loads(podman("inspect", "--type", "container", self.name))[0]["State"]
        pid = int(state.get("Pid") or 0)
        if pid <= 0 or not Path(f"/proc/{pid}").exists():
            raise PlatformError(f"{self.name}: the container is not running (state {state})")
        return pid

    def pause(self) -> None:
        podman("pause", self.name)  # the cgroup freezer, as docker pause

    def resume(self) -> None:
        podman("unpause", self.name)

    def oom_kills(self) -> int | None:

        try:
            memory = locate(self.pid()).memory
        except (OSError, ValueError, BenchError):
            return None  # the container is gone: nothing to attribute
        return cgroup.oom_kills(memory.path) if memory else None

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        started = time.perf_counter()
        with subprocess.Popen(
            [PODMAN, "exec", self.name, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                # the command runs under conmon, not under the podman client: kill it inside
                podman("exec", self.name, *KILL_ALL_BUT_KEEPER, check=False)
                raise exec_timed_out(self.name, argv, timeout) from None
        wall = time.perf_counter() - started
        code = proc.returncode
        return ExecResult(out.decode(errors="replace"), err.decode(errors="replace"), code, wall)


class PodmanPlatform(Platform):
    name = "podman"
    # bridge (the run's own network) or host (podman-hostnet, --network host); podman has
    # no nat profile here (see registry.py)
    network_mode: ClassVar[str] = NET_BRIDGE

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config)
        self._network: str | None = None
        self._info: HostInfo | None = None

    def info(self) -> HostInfo:
        if self._info is None:
            self._info = host_info()
        return self._info

    def _network_name(self) -> str:
        if self.network_mode == "host":
            return "host"
        if self._network is None:
            name = resource_name(self.config.run.run_id, "podman")
            with lifecycle.shielded():
                podman("network", "create", "--label", f"{RUN_LABEL}={self.config.run.run_id}",
                       name)  # fmt: skip
                self._network = name
        return self._network

    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        net = self._network_name()
        log = res.acquire(
            lambda: MarkerLog(self.config.run.log_dir / f"{name}.log", name), MarkerLog.close
        )
        # conmon writes the container's output here; the marker log keeps a copy in logs/
        work = res.acquire(lambda: self.config.run.instance_dir(name), shutil.rmtree)
        conmon_log = work / "conmon.log"
        started = time.perf_counter()
        res.acquire(lambda: self._create(name, spec.limits, net, conmon_log), remove_container)
        podman("start", name)
        running = time.perf_counter()
        ready = follow_until_ready(conmon_log, log, spec.ready_timeout_s, started)
        instance = PodmanInstance(name, spec.limits, log.path)
        instance.startup = Startup(running - started, ready - running)
        state = json.loads(podman("inspect", "--type", "container", name))[0]
        instance.address = (
            "127.0.0.1"
            if self.network_mode == "host"
            else state["NetworkSettings"]["Networks"][net]["IPAddress"]
        )
        return instance

    def _create(self, name: str, limits: Limits, net: str, log_path: Path) -> str:
        image = image_name(self.config.images.digest)
        try:
            podman("image", "exists", image)
        except PlatformError as exc:
            raise PlatformError(
                f"podman has no image {image}", "run `vcbench images build`"
            ) from exc
        podman("create", *create_args(name, self.config.run.run_id, limits, net, log_path,
                                      self.info().runtime), image, *KEEPER)  # fmt: skip
        return name

    def close(self) -> None:
        if self._network is not None:
            with lifecycle.shielded():
                podman("network", "rm", "-f", self._network, check=False)
            self._network = None


def create_args(
    name: str, run_id: str, limits: Limits, net: str, log_path: Path, runtime: str
) -> list[str]:
    """`podman create`'s options: the Docker platform's limits, labels and keeper, and a
    conmon log file the start-up marker is read from."""
    return [
        "--name", name,
        "--label", f"{RUN_LABEL}={run_id}",
        "--label", f"{INSTANCE_LABEL}={name}",
        "--network", net,
        "--cpus", str(limits.vcpus),
        "--cpuset-cpus", limits.cpuset_text,
        "--memory", f"{limits.memory_mib}m",
        "--memory-swap", f"{limits.memory_mib}m",  # no swap beyond the limit, as in Docker
        *ulimits(),
        "--runtime", runtime,
        "--log-driver", "k8s-file",
        "--log-opt", f"path={log_path}",
        "--pull", "never",  # no registry here, ever: the image was loaded from dockerd's
    ]  # fmt: skip


def follow_until_ready(path: Path, log: MarkerLog, timeout_s: float, started: float) -> float:
    """Feed conmon's log file into log as it grows until the marker (or the deadline)."""
    deadline = started + timeout_s
    offset = 0
    while log.ready_at is None and time.perf_counter() < deadline:
        try:
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            offset += len(data)
            log.feed(data)
        else:
            time.sleep(POLL_S)
    return log.wait_ready(timeout_s, started)


def gc_containers() -> list[tuple[str, str]]:
    """(name, run id) of every podman container with a vcbench run label."""
    out = podman("ps", "-a", "--filter", f"label={RUN_LABEL}", "--format", "json")
    return [(c["Names"][0], c["Labels"][RUN_LABEL]) for c in json.loads(out or "[]")]


def gc_networks() -> list[tuple[str, str]]:
    out = podman("network", "ls", "--filter", f"label={RUN_LABEL}", "--format", "json")
    return [(n["name"], n["labels"][RUN_LABEL]) for n in json.loads(out or "[]")]


def remove_network(name: str) -> None:
    podman("network", "rm", "-f", name)


def remove_container(name: str) -> None:
    podman("rm", "-f", "-t", "0", name)
