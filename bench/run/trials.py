"""One trial of each kind of workload: command, startup, idle. Raw output is kept beside
the figures it produced; a trial that fails says why, in one line and a short cause."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.collectors.host import HostSource
from bench.collectors.sampler import Reading, Sampler, SeriesSummary, Source
from bench.collectors.sources import sources_for
from bench.core.errors import BenchError, DaemonLost, InstanceTimeout, PlatformError
from bench.core.parsers import ParseError, parse
from bench.core.proc import tail
from bench.core.workload import Workload, fill
from bench.data.results import Event, no_space_is_full
from bench.host import page_cache
from bench.platforms.protocol import ExecResult, Instance, InstanceSpec, Limits, Platform
from bench.run.idle_footprint import footprint, memory_basis

SERVER_FILES = "/tmp/vcbench-server"
LISTEN_TIMEOUT_S = 90.0  # a database's first start under TCG takes tens of seconds
# A shell test for "this pid still runs": in a container the server's orphan is reparented to
# the keeper, which does not reap it, so an exited server lingers as a zombie kill -0 still finds.
ALIVE = 'alive() { s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; };'
PHASE = re.compile(r"VCBENCH-PHASE (\w+) ([0-9.]+)")


class TrialFailed(Exception):
    """The trial produced no trustworthy figure; cause is a short class for tables."""

    def __init__(self, cause: str, message: str, *, instance_lost: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.instance_lost = instance_lost
        # the instance it happened on, when there was one: its console log is the first
        # thing a reader of the failure opens
        self.instance = ""
        self.accel = ""


@contextmanager
def failing_on(instance: Instance) -> Iterator[None]:
    """A trial failure raised inside names the instance it happened on."""
    try:
        yield
    except TrialFailed as failure:
        failure.instance = failure.instance or instance.name
        failure.accel = failure.accel or instance.accel
        raise


@dataclass
class TrialIO:
    """Where a trial's raw output goes, and what it has written so far."""

    run_dir: Path
    trial_id: str
    written: list[str] = field(default_factory=list)

    def keep(self, name: str, text: str) -> None:
        path = self.run_dir / "raw" / f"{self.trial_id}.{name}"
        with no_space_is_full(path):
            path.write_text(text)
        self.written.append(str(path.relative_to(self.run_dir)))


@dataclass(frozen=True)
class Measured:
    metrics: dict[str, float]
    instance: str
    accel: str
    summary: tuple[SeriesSummary, ...] = ()
    readings: tuple[Reading, ...] = ()
    # What the trial has to say besides its figures (collector errors, the footprint's memory
    # basis): the runner records each as a run event naming the trial.
    notes: tuple[Event, ...] = ()


@dataclass(frozen=True)
class TrialSetup:
    workload: Workload
    limits: Limits
    io: TrialIO
    sample_hz: float


def template_values(workload: Workload, limits: Limits, instance: Instance) -> dict[str, object]:
    return {
        "vcpus": limits.vcpus,
        "memory_mib": limits.memory_mib,
        "duration": workload.duration,
        "address": instance.address or "127.0.0.1",  # native shares the host's loopback
        "port": workload.port or 0,
        "file_size_mib": workload.file_size_mib or 0,
    }


def _sampled(
    setup: TrialSetup, sources: Sequence[Source], body: Callable[[], ExecResult]
) -> tuple[ExecResult, Sampler]:
    with Sampler(sources, setup.sample_hz) as sampler:
        result = body()
    return result, sampler


def host_values(values: dict[str, object], instance: Instance) -> dict[str, object]:
    """A host-side client's values: the server's port as the host reaches it (NAT)."""
    port = values["port"]
    return values | {"port": instance.published.get(port, port) if isinstance(port, int) else port}


def command_trial(setup: TrialSetup, instance: Instance) -> Measured:
    w = setup.workload
    values = template_values(w, setup.limits, instance)
    client = host_values(values, instance) if w.runs_on == "host" else values
    argv = fill(w.command, client)
    setup.io.keep("cmd", " ".join(argv) + "\n")
    if w.setup:
        untimed_step("setup", lambda: guarded_exec(instance, fill(w.setup, values), w.timeout_s))
    if w.server:
        start_server(instance, fill(w.server, values), w.port or 0)
    try:
        if w.prepare:
            prepare = fill(w.prepare, client)
            untimed_step(
                "prepare",
                lambda: (
                    host_exec(prepare, w.timeout_s, setup.limits)
                    if w.runs_on == "host"
                    else guarded_exec(instance, prepare, w.timeout_s)
                ),
            )
        if w.runs_on == "host":
            result, sampler = _sampled(
                setup, sources_for(instance), lambda: host_exec(argv, w.timeout_s, setup.limits)
            )
        else:
            result, sampler = _sampled(
                setup, sources_for(instance), lambda: guarded_exec(instance, argv, w.timeout_s)
            )
    finally:
        if w.server:
            stop_server(instance)
    setup.io.keep("stdout", result.stdout)
    if result.stderr:
        setup.io.keep("stderr", result.stderr)
    if result.exit_code != 0:
        raise exit_failure(instance, result, checks_oom=w.runs_on == "instance")
    try:
        found = parse(w.parser or "", result.stdout)
    except ParseError as exc:
        raise TrialFailed("parse", exc.one_line()) from None
    missing = sorted(set(w.metrics) - set(found))
    if missing:
        raise TrialFailed("parse", f"{w.parser} gave no {', '.join(missing)}")
    metrics = {name: found[name] for name in w.metrics}
    metrics["wall_s"] = result.wall_s
    return measured(metrics, instance.name, instance.accel, sampler)


def exit_failure(instance: Instance, result: ExecResult, *, checks_oom: bool) -> TrialFailed:
    """A non-zero exit, told apart from a kill by the OOM killer (which says only 137)."""
    output = tail(result.stderr or result.stdout)
    try:
        kills = instance.oom_kills() if checks_oom else None
    except PlatformError:
        kills = None  # the instance itself is going: the exit code is all we know
    if kills:
        return TrialFailed(
            "oom",
            f"killed by the OOM killer at the {instance.limits.memory_mib} MiB memory limit"
            f" (exit {result.exit_code}, {kills} OOM kill(s) in {instance.name}): {output}",
            instance_lost=True,  # whatever else the OOM killer took, the next trial starts clean
        )
    return TrialFailed("exit-code", f"exit {result.exit_code}: {output}")


def measured(
    metrics: dict[str, float],
    instance: str,
    accel: str,
    sampler: Sampler,
    notes: Sequence[Event] = (),
) -> Measured:
    """The figures, the collectors' summaries, what the sampling itself cost, and the
    collectors' errors (a series that stopped or never started) as a note, never dropped."""
    cost = sampler.cost
    own = (
        SeriesSummary(
            "sampler", "core_share", "cores", cost.core_share, cost.core_share, cost.ticks
        ),
        SeriesSummary("sampler", "tick_s", "s", cost.mean_tick_s, cost.mean_tick_s, cost.ticks),
    )
    summary = (*sampler.summary(), *own)
    errors = collector_errors(sampler.errors)
    notes = (*notes, *errors)
    return Measured(metrics, instance, accel, summary, tuple(sampler.readings), notes)


def collector_errors(errors: Sequence[str]) -> tuple[Event, ...]:
    """The sampler's errors as one warning: the trial's figures stand, its series may be short."""
    if not errors:
        return ()
    shown = "; ".join(dict.fromkeys(errors))  # a source failing every tick says it once
    return (
        Event(
            "warning",
            f"collector errors during the trial ({len(errors)}): {shown}",
            "its resource series may be short or missing; `vcbench doctor` checks the"
            " collectors' sources",
            at=time.time(),
            data={"code": "collector-error", "errors": list(dict.fromkeys(errors))},
        ),
    )


def guarded_exec(instance: Instance, argv: Sequence[str], timeout: float) -> ExecResult:
    """exec, with the platform's failures turned into causes the runner acts on."""
    try:
        return instance.exec(argv, timeout=timeout)
    except InstanceTimeout as exc:
        raise TrialFailed("timeout", exc.message, instance_lost=True) from None
    except DaemonLost as exc:
        raise TrialFailed("daemon-lost", exc.message, instance_lost=True) from None
    except PlatformError as exc:
        raise TrialFailed("instance-lost", exc.message, instance_lost=True) from None


def host_exec(argv: Sequence[str], timeout: float, limits: Limits) -> ExecResult:
    """A client on the host, kept off the instance's CPUs where the host has others."""
    others = set(os.sched_getaffinity(0)) - set(limits.cpuset)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=(lambda: os.sched_setaffinity(0, others)) if others else None,
        )
    except FileNotFoundError:
        raise TrialFailed(
            "host-tool", f"{argv[0]} is not installed on the host; run `vcbench host setup`"
        ) from None
    except subprocess.TimeoutExpired:
        raise TrialFailed(
            "timeout", f"`{' '.join(argv)}` did not finish within {timeout:g} s"
        ) from None
    return ExecResult(done.stdout, done.stderr, done.returncode, time.perf_counter() - started)


def untimed_step(cause: str, body: Callable[[], ExecResult]) -> None:
    """A workload's setup or prepare step: its failure is the trial's, with the step named."""
    result = body()
    if result.exit_code != 0:
        raise TrialFailed(
            cause,
            f"the {cause} step failed (exit {result.exit_code}):"
            f" {tail(result.stderr or result.stdout)}",
        )


def start_server(instance: Instance, argv: Sequence[str], port: int) -> None:
    # Something listening already (another run's server, a stale one) would answer the
    # readiness check below for a server that never started: that is a failure, said so.
    taken = guarded_exec(instance, ["/bin/sh", "-c", f"ss -Hltnp 'sport = :{port}'"], 10)
    if taken.exit_code == 0 and taken.stdout.strip():
        raise TrialFailed(
            "server", f"port {port} is already taken before the server starts: {tail(taken.stdout)}"
        )
    script = f'"$@" > {SERVER_FILES}.log 2>&1 < /dev/null & echo $! > {SERVER_FILES}.pid'
    started = guarded_exec(instance, ["/bin/sh", "-c", script, "sh", *argv], 30)
    if started.exit_code != 0:
        raise TrialFailed("server", f"the server did not start: {tail(started.stderr)}")
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    # 0: it listens; 3: it has exited (a broken config fails now, not after the timeout)
    check = [
        "/bin/sh",
        "-c",
        f"{ALIVE} ss -Hltn 'sport = :{port}' | grep -q . && exit 0;"
        f' alive "$(cat {SERVER_FILES}.pid)" || exit 3; exit 1',
    ]
    while (code := guarded_exec(instance, check, 10).exit_code) != 0:
        if code == 3 or time.monotonic() > deadline:
            log = guarded_exec(instance, ["cat", f"{SERVER_FILES}.log"], 10).stdout
            why = (
                "the server exited"
                if code == 3
                else f"nothing listens after {LISTEN_TIMEOUT_S:g} s"
            )
            raise TrialFailed("server", f"{why} (port {port}): {tail(log)}")
        time.sleep(0.1)


def stop_server(instance: Instance) -> None:
    # Wait (bounded) until it is gone: a database flushing on SIGTERM would otherwise still
    # hold the port when the next trial's server starts on the same network.
    script = (
        f"{ALIVE} pid=$(cat {SERVER_FILES}.pid 2>/dev/null); rm -f {SERVER_FILES}.pid;"
        ' [ -n "$pid" ] || exit 0; kill "$pid" 2>/dev/null;'
        ' for i in $(seq 200); do alive "$pid" || exit 0; sleep 0.1; done;'
        ' kill -9 "$pid" 2>/dev/null; exit 0'
    )
    guarded_exec(instance, ["/bin/sh", "-c", script], 30)


def drop_caches() -> None:
    problem = page_cache.drop_caches()
    if problem is not None:
        raise TrialFailed("cold-cache", f"cannot drop the page cache ({problem}): run as root")


def guest_phases(log: Path, host_running_to_ready: float) -> dict[str, float]:
    """The guest's own clock at each boot phase (from the last boot in the console log)."""
    seen: dict[str, float] = {}
    for name, uptime in PHASE.findall(log.read_text(errors="replace")):
        if name == "initramfs":
            seen = {}
        seen[name] = float(uptime)
    if not {"initramfs", "init", "ready"} <= set(seen):
        return {}
    return {
        "guest_kernel_s": seen["initramfs"],  # kernel start -> initramfs /init
        "guest_initramfs_s": seen["init"] - seen["initramfs"],  # modules, root mount
        "guest_init_s": seen["ready"] - seen["init"],  # network, agent, marker
        # firmware, kernel decompression and the console's trip back to the host
        "host_to_guest_s": max(0.0, host_running_to_ready - seen["ready"]),
    }


def startup_trial(setup: TrialSetup, platform: Platform, spec: InstanceSpec) -> Measured:
    w = setup.workload
    if w.cache == "cold":
        drop_caches()
    with Sampler([HostSource()], setup.sample_hz) as sampler, started(platform, spec) as instance:
        s = instance.startup
        metrics = {
            "startup_s": s.total_s,
            "create_to_running_s": s.create_to_running_s,
            "running_to_ready_s": s.running_to_ready_s,
        }
        metrics |= guest_phases(instance.log_path, s.running_to_ready_s)
        setup.io.keep("startup", f"{metrics}\nlog: {instance.log_path}\n")
        name, accel = instance.name, instance.accel
    kept = {k: v for k, v in metrics.items() if k in w.metrics}
    return measured(kept, name, accel, sampler)


def idle_trial(setup: TrialSetup, platform: Platform, spec: InstanceSpec) -> Measured:
    with started(platform, spec) as instance:
        time.sleep(1.0)  # let the boot's own work finish: idle means idle
        with Sampler(sources_for(instance), setup.sample_hz) as sampler:
            time.sleep(setup.workload.duration)
        summary = sampler.summary()
        setup.io.keep(
            "footprint",
            "".join(
                f"{s.source}.{s.field} {s.unit} mean={s.mean:.6g} peak={s.peak:.6g} n={s.n}\n"
                for s in summary
            )
            + "".join(f"error: {e}\n" for e in sampler.errors),
        )
        found = footprint(summary)
        if not found:
            raise TrialFailed("collector", f"no footprint readings: {'; '.join(sampler.errors)}")
        metrics = {k: v for k, v in found.items() if k in setup.workload.metrics}
        basis, what = memory_basis(summary)
        note = Event(
            "footprint", f"memory_mib is {what}", at=time.time(), data={"memory_basis": basis}
        )
        return measured(metrics, instance.name, instance.accel, sampler, (note,))


@contextmanager
def started(platform: Platform, spec: InstanceSpec) -> Iterator[Instance]:
    """A fresh instance, with a failure to start turned into a trial failure."""
    with ExitStack() as stack:
        try:
            instance = stack.enter_context(platform.start(spec))
        except BenchError as exc:
            raise TrialFailed("start-failed", exc.one_line()) from None
        with failing_on(instance):
            yield instance
