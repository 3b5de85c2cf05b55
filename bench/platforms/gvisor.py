"""The gVisor platform: the Docker platform with dockerd's `runsc` runtime, nothing else
changed (same image, network, limits, attach stream and exec), so the difference between
the two is the user-space kernel alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.core.errors import InstanceTimeout, PlatformError
from bench.host import runsc
from bench.platforms import procs
from bench.platforms.docker import DockerInstance, DockerPlatform, dockerd_calls
from bench.platforms.protocol import KILL_ALL_BUT_KEEPER, ExecResult

REGISTER_HINT = "run `vcbench host setup` (it installs runsc and registers it with dockerd)"


class GvisorInstance(DockerInstance):
    platform = "gvisor"

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        """A command that failed because the sandbox itself died (runsc-sandbox killed, the
        sentry crashed) is a lost instance, not the command's exit code or a timeout."""
        import docker

        try:
            result = super().exec(argv, timeout)
        except (docker.errors.APIError, InstanceTimeout):
            self._raise_if_gone(argv)  # dockerd forgets the exec of a dead sandbox (404)
            raise
        if result.exit_code != 0:
            self._raise_if_gone(argv)
        return result

    def _still_running(self) -> bool:
        """The exec stream of a dead sandbox never ends: dockerd is asked while it is quiet."""
        import docker

        try:
            return not sandbox_gone(self._api.inspect_container(self.container_id)["State"])
        except docker.errors.NotFound:
            return False

    def _raise_if_gone(self, argv: Sequence[str]) -> None:
        state = self._api.inspect_container(self.container_id)["State"]
        if sandbox_gone(state):
            raise PlatformError(
                f"{self.name}: the gVisor sandbox went away (container {state.get('Status')},"
                f" exit {state.get('ExitCode')}, sandbox pid {state.get('Pid')}"
                f" {'alive' if _process_alive(int(state.get('Pid') or 0)) else 'gone'})"
                f" during `{' '.join(argv)}`",
                "see the runsc logs under /run/containerd/io.containerd.runtime.v2.task/moby/",
            )

    def _kill_exec(self, exec_id: str) -> None:
        """The exec's host process is only `runsc exec`: its command lives in the sandbox's
        own process table, out of the host's reach, so it is killed from inside as well."""
        import docker

        try:
            super()._kill_exec(exec_id)
            kill_id = self._api.exec_create(self.container_id, KILL_ALL_BUT_KEEPER)["Id"]
            self._api.exec_start(kill_id)
        except docker.errors.APIError:
            pass  # the sandbox is gone: exec() tells it apart from a command that hung


def sandbox_gone(state: dict[str, Any]) -> bool:
    """Whether the sandbox is dead: dockerd says so, or its process has already exited.
    dockerd hears of a killed sandbox from containerd a moment later, so a command that
    failed because the sandbox died can find the container still "running"; the sandbox's
    own process (the container's pid) is gone or a zombie by then."""
    return not state.get("Running") or not _process_alive(int(state.get("Pid") or 0))


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # no pid to look at: dockerd's Running stands alone
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class GvisorPlatform(DockerPlatform):
    name = "gvisor"
    runtime = runsc.RUNTIME
    instance_type = GvisorInstance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flags: dict[str, str] | None = None

    def flags(self) -> dict[str, str]:
        """runsc's --platform and --network as dockerd runs it (read once per run)."""
        if self._flags is None:
            with dockerd_calls():
                entry = runsc.dockerd_runtimes(self.client()).get(runsc.RUNTIME)
            if entry is None:
                raise PlatformError("dockerd has no runsc runtime", REGISTER_HINT)
            self._flags = runsc.runtime_flags(entry)
        return self._flags

    def accel(self) -> str:
        return accel_of(self.flags()["platform"])

    def _remove(self, container: Any) -> None:
        """runsc 20221219 leaves the sandbox, its gofer and their shim running when a start
        fails: removed from dockerd, they would idle on as unlabelled load on the host."""
        super()._remove(container)
        procs.kill(sandbox_processes(container.id, psutil.process_iter(["cmdline"])))


# By argv[0]: runsc re-executes /proc/self/exe, so the sandbox and gofer are all "exe" by name.
SANDBOX_PROCESSES = ("runsc", "runsc-sandbox", "runsc-gofer", "containerd-shim-runc-v2")


def sandbox_processes(container_id: str, processes: Iterable[Any]) -> list[Any]:
    """The host processes of one container's sandbox: runsc's and its shim's, each naming the
    container's full id on its command line (the bundle path, or the shim's -id)."""
    found = []
    for proc in processes:
        argv = getattr(proc, "info", {}).get("cmdline") or ()
        if (
            argv
            and Path(argv[0]).name in SANDBOX_PROCESSES
            and any(container_id in arg for arg in argv)
        ):
            found.append(proc)
    return found


def accel_of(runsc_platform: str) -> str:
    """gVisor's own platform (how the sentry traps system calls), spelled for a figure."""
    return f"runsc-{runsc_platform}"
