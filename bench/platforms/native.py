"""The native platform: the same userland as a chroot on the host kernel, pinned to the cpuset.

Each instance mounts an overlay of the extracted tree (the chroot's writes stay out of the
shared tree, as Docker's and the VM's do) and binds /proc /sys /dev, all inside a private
mount namespace: when the keeper process dies the mounts die with it, so no path leaks them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from bench.core.errors import PlatformError
from bench.host.procfs import PROC, read_stat
from bench.platforms import cgroup, lifecycle, procs
from bench.platforms.output import MarkerLog, pump_until_ready
from bench.platforms.protocol import (
    KEEPER,
    ExecResult,
    Instance,
    InstanceSpec,
    Limits,
    Platform,
    Startup,
    exec_timed_out,
)

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Runs on the host as the keeper: join the cgroup, mount, then become the chroot's keeper.
KEEPER_SCRIPT = r"""
set -e
[ -z "$1" ] || echo $$ > "$1"
mount -t overlay "$2" -o "lowerdir=$3,upperdir=$4/upper,workdir=$4/work" "$4/root"
for d in proc sys dev; do mount --rbind "/$d" "$4/root/$d"; done
cpus="$5"; root="$4/root"; shift 5
exec taskset -c "$cpus" chroot "$root" "$@"
"""
JOIN_CGROUP = r'[ -z "$1" ] || echo $$ > "$1"; shift; exec "$@"'


class NativeInstance(Instance):
    platform = "native"

    def __init__(self, name: str, limits: Limits, log: MarkerLog, env: dict[str, str]) -> None:
        super().__init__(name, limits, log.path)
        self.keeper_pid = 0
        self.memory_cgroup: cgroup.MemoryCgroup | None = None
        self._env = env

    @property
    def enforced_memory_mib(self) -> int | None:
        """The memory limit really in force, None when the host gave no memory cgroup."""
        return self.memory_cgroup.limit_mib if self.memory_cgroup else None

    def oom_kills(self) -> int | None:
        return cgroup.oom_kills(self.memory_cgroup.path) if self.memory_cgroup else None

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        procs = str(self.memory_cgroup.procs) if self.memory_cgroup else ""
        enter = ["nsenter", "-t", str(self.keeper_pid), "-m", "--root", "--wd", "--"]
        full = ["/bin/sh", "-c", JOIN_CGROUP, "sh", procs, "taskset", "-c"]
        full += [self.limits.cpuset_text, *enter, *argv]
        # Output goes to files, not pipes: a daemon the command leaves behind keeps its
        # inherited stdout open, and reading a pipe to EOF would wait for that daemon.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            child = subprocess.Popen(
                full, stdout=out, stderr=err, env=self._env, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise exec_timed_out(self.name, argv, timeout) from None
            finally:
                if child.poll() is None:
                    _kill_group(child)  # timed out or interrupted: nothing keeps running
            wall = time.perf_counter() - started
            return ExecResult(_read(out), _read(err), code, wall)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _kill_group(child: subprocess.Popen[bytes], deadline_s: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    # SIGKILL lands when each member is next scheduled, and the command itself is a grandchild
    # (sh -> taskset -> nsenter): wait until no member of the group still runs, so that what
    # exec says was killed is gone. Zombies count as gone (the host's init reaps them slowly).
    end = time.monotonic() + deadline_s
    while _group_alive(child.pid) and time.monotonic() < end:
        time.sleep(0.01)


def _group_alive(pgid: int) -> bool:
    # here, not at the top: bench.collectors imports the platforms (docker.py does the same)

    for proc in PROC.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = read_stat(int(proc.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
        if stat.pgrp == pgid and stat.state != "Z":
            return True
    return False


class NativePlatform(Platform):
    name = "native"

    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        tree = self.config.images.tree
        if not (tree / "bin").exists():
            raise PlatformError(f"the rootfs tree {tree} is missing", "run `vcbench images build`")
        run = self.config.run
        work = res.acquire(lambda: _overlay_dirs(run.instance_dir(name)), shutil.rmtree)
        log = res.acquire(lambda: MarkerLog(run.log_dir / f"{name}.log", name), MarkerLog.close)
        memory = res.acquire(
            lambda: cgroup.create(name, spec.limits.memory_mib),
            _remove_cgroup,
        )
        env = {"PATH": PATH, "HOME": "/root", procs.RUN_VAR: run.run_id, procs.INSTANCE_VAR: name}
        instance = NativeInstance(name, spec.limits, log, env)
        instance.memory_cgroup = memory
        argv = ["setpriv", "--pdeathsig", "KILL", "--", "unshare", "--mount",
                "--propagation", "private", "--", "/bin/sh", "-c", KEEPER_SCRIPT, "keeper",
                str(memory.procs) if memory else "", name, str(tree), str(work),
                spec.limits.cpuset_text, *KEEPER]  # fmt: skip
        started = time.perf_counter()
        res.defer(lambda: procs.kill(procs.tagged(procs.INSTANCE_VAR).get(name, [])))
        keeper = res.acquire(lambda: _spawn(argv, env), _stop)
        running = time.perf_counter()
        assert keeper.stdout is not None
        ready = pump_until_ready(keeper.stdout.fileno(), log, spec.ready_timeout_s, started)
        instance.keeper_pid = keeper.pid
        instance.startup = Startup(running - started, ready - running)
        return instance


def _remove_cgroup(memory: cgroup.MemoryCgroup | None) -> None:
    if memory is not None:
        cgroup.remove(memory.path)


def _overlay_dirs(base: Path) -> Path:
    for sub in ("upper", "work", "root"):
        (base / sub).mkdir(exist_ok=True)
    return base


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    if shutil.which(argv[0]) is None:
        raise PlatformError(f"{argv[0]} is not installed", "install util-linux")
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, start_new_session=True,
    )  # fmt: skip


def _stop(keeper: subprocess.Popen[bytes]) -> None:
    """Killing the keeper ends its mount namespace, and with it every mount it made."""
    _kill_group(keeper)
    if keeper.stdout is not None:
        keeper.stdout.close()
