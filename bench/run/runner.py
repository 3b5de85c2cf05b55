"""RunPlan -> interleaved trials -> the results directory.

Every trial is written (and fsynced) as it ends, so an interruption loses at most the trial
in flight; `--resume` rebuilds the same schedule from run.json and skips what is recorded.
A trial that fails is recorded with its cause and the run goes on; a platform that fails to
start several times in a row is dropped for the rest of the run, with a warning.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.collectors.sampler import Reading
from bench.core.errors import BenchError, DaemonLost
from bench.core.platform_names import profile_of
from bench.core.workload import WALL, WALL_METRIC, Metric, Workload
from bench.data.results import Event, RunWriter, Sample, Status, Trial, TrialKey, load_run
from bench.platforms.protocol import (
    AccelChoice,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
    parse_cpuset,
)
from bench.platforms.registry import open_platform
from bench.run.adaptive import Adaptive, Look, look
from bench.run.pool import Pool
from bench.run.schedule import round_keys, schedule
from bench.run.trials import (
    Measured,
    TrialFailed,
    TrialIO,
    TrialSetup,
    command_trial,
    failing_on,
    idle_trial,
    startup_trial,
)

MAX_START_FAILURES = 3
LOST_ADVICE = "run `vcbench host setup` to start it again, then `vcbench run --resume`"
DEFAULT_SAMPLE_HZ = 10.0


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    suite: str
    workloads: tuple[Workload, ...]
    platforms: tuple[str, ...]
    limits: Limits
    seed: int
    fresh: bool = False  # a new instance for every trial, not one per platform and round
    accel: AccelChoice = "auto"
    sample_hz: float = DEFAULT_SAMPLE_HZ
    ready_timeout_s: float = 180.0
    # The claim experiments after the trials: (name, settings) in the order they run.
    experiments: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    # --vm-profile: each is the platform libvirt (default) or libvirt-<profile> in `platforms`
    vm_profiles: tuple[str, ...] = ("default",)
    # --budget or the suite's: repeat until decided (bench.run.adaptive); None = fixed repeats
    adaptive: Adaptive | None = None

    def keys(self) -> list[TrialKey]:
        """Every trial of the schedule; an adaptive run's every trial it may run, to max n."""
        if self.adaptive is None:
            return list(schedule(self.workloads, self.platforms, self.seed))
        every = self.pairs()
        return [
            key
            for round_ in range(self.adaptive.design.max_n)
            for key in round_keys(self.workloads, self.platforms, self.seed, round_, every)
        ]

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every (workload, platform) the run measures."""
        return frozenset(
            (k.workload, k.platform)
            for k in round_keys(self.workloads, self.platforms, self.seed, 0)
        )

    def by_name(self) -> dict[str, Workload]:
        return {w.name: w for w in self.workloads}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "platforms": list(self.platforms),
            "limits": {
                "vcpus": self.limits.vcpus,
                "memory_mib": self.limits.memory_mib,
                "cpuset": self.limits.cpuset_text,
            },
            "seed": self.seed,
            "fresh": self.fresh,
            "accel": self.accel,
            "sample_hz": self.sample_hz,
            "ready_timeout_s": self.ready_timeout_s,
            "trials": len(self.keys()),
            "experiments": {name: dict(settings) for name, settings in self.experiments},
            "vm_profiles": list(self.vm_profiles),
            "adaptive": self.adaptive.to_json() if self.adaptive else None,
            "workloads": [
                w.model_dump(mode="json") | {"hash": w.definition_hash()} for w in self.workloads
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:

        limits = data["limits"]
        return cls(
            run_id=data["run_id"],
            suite=data["suite"],
            workloads=tuple(
                Workload.model_validate(_without_hash(w), strict=False) for w in data["workloads"]
            ),
            platforms=tuple(data["platforms"]),
            limits=Limits(limits["vcpus"], limits["memory_mib"], parse_cpuset(limits["cpuset"])),
            seed=data["seed"],
            fresh=data["fresh"],
            accel=data["accel"],
            sample_hz=data["sample_hz"],
            ready_timeout_s=data["ready_timeout_s"],
            experiments=tuple(data.get("experiments", {}).items()),
            vm_profiles=tuple(data.get("vm_profiles", ("default",))),
            adaptive=Adaptive.from_json(data["adaptive"]) if data.get("adaptive") else None,
        )


def _without_hash(workload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in workload.items() if k != "hash"}


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    dropped: list[str] = field(default_factory=list)
    experiments_failed: list[str] = field(default_factory=list)


Progress = Callable[[TrialKey, int, int, Trial | None], None]


class Runner:
    def __init__(
        self,
        plan: RunPlan,
        writer: RunWriter,
        config: PlatformConfig,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.writer = writer
        self.config = config
        self.progress = progress or (lambda *_: None)
        self.tally = Tally()
        self._start_failures: dict[str, int] = {}
        self._workloads = plan.by_name()

    def run(self, done: set[str]) -> Tally:
        keys = self.plan.keys()
        spec = InstanceSpec(
            self.plan.limits,
            ready_timeout_s=self.plan.ready_timeout_s,
            ports=tuple(sorted({w.port for w in self.plan.workloads if w.port})),
        )
        position = {key.id: n for n, key in enumerate(keys, 1)}
        with self._platforms() as platforms:
            rounds = _rounds(keys) if self.plan.adaptive is None else self._adaptive_rounds()
            for round_keys_ in rounds:
                with Pool(platforms, spec) as pool:
                    for key in round_keys_:
                        if key.id in done:
                            continue
                        if key.platform in self.tally.dropped:
                            self.tally.skipped += 1
                            continue
                        self.progress(key, position[key.id], len(keys), None)
                        trial = self._trial(key, platforms[key.platform], pool, spec)
                        self.progress(key, position[key.id], len(keys), trial)
        return self.tally

    def _adaptive_rounds(self) -> Iterator[list[TrialKey]]:
        """Round by round, after a look at what the results hold: all pairs until the
        minimum repeats, then only the open ones, until none is open or the budget is spent."""
        adaptive = self.plan.adaptive
        assert adaptive is not None
        every = self.plan.pairs()
        for round_ in range(adaptive.design.max_n + 1):
            state = look(load_run(self.writer.dir), adaptive, round_, every, self.plan.seed)
            why = state.stop_reason(adaptive)
            self._note_look(state, why, adaptive)
            if why:
                return
            keys = round_keys(
                self.plan.workloads, self.plan.platforms, self.plan.seed, round_, state.measure
            )
            yield list(keys)

    def _note_look(self, state: Look, why: str, adaptive: Adaptive) -> None:
        if not why and state.round < adaptive.design.min_n:
            return
        data = {
            "round": state.round,
            "open": sorted(map(list, state.open)),
            "measure": sorted(map(list, state.measure)),
            "spent_s": round(state.spent_s, 1),
            "stop": why,
        }
        if why:
            message = {
                "decided": f"every figure decided after {state.round} rounds",
                "budget": f"budget spent ({state.spent_s:.0f} s of trials), {state.round} rounds",
                "max n": state.at_max_n(adaptive.design.max_n),
            }[why]
            self.writer.event(Event("adaptive-stop", message, at=time.time(), data=data))
            return
        message = (
            f"round {state.round}: {len(state.open)} (workload, platform) pair(s) open,"
            f" {len(state.measure)} measured"
        )
        self.writer.event(Event("adaptive-look", message, at=time.time(), data=data))

    def _platforms(self) -> AbstractContextManager[dict[str, Platform]]:
        return open_platforms(self.plan.platforms, self.config)

    def _trial(self, key: TrialKey, platform: Platform, pool: Pool, spec: InstanceSpec) -> Trial:
        workload = self._workloads[key.workload]
        io = TrialIO(self.writer.dir, key.id)
        setup = TrialSetup(workload, self.plan.limits, io, self.plan.sample_hz)
        started = time.time()
        try:
            measured = self._measure(key, setup, platform, pool, spec)
        except TrialFailed as failure:
            if failure.instance_lost:
                pool.discard(key.platform)
            return self._record_failure(key, workload, started, io, failure)
        finally:
            for name, why in pool.lost.items():
                self._drop(name, why, LOST_ADVICE)
            pool.lost.clear()
        self._start_failures[key.platform] = 0
        if self.plan.fresh and workload.kind == "command":
            pool.discard(key.platform)
        return self._record(key, workload, started, io, measured)

    def _measure(
        self, key: TrialKey, setup: TrialSetup, platform: Platform, pool: Pool, spec: InstanceSpec
    ) -> Measured:
        kind = setup.workload.kind
        if kind != "command":
            pool.focus(None)  # a fresh instance: every sibling sleeps meanwhile
            run = startup_trial if kind == "startup" else idle_trial
            return run(setup, platform, spec)
        try:
            instance = pool.get(key.platform)
            pool.focus(key.platform)
        except DaemonLost as exc:
            raise TrialFailed("daemon-lost", exc.message, instance_lost=True) from None
        except BenchError as exc:
            raise TrialFailed("start-failed", exc.one_line()) from None
        with failing_on(instance):
            return command_trial(setup, instance)

    def _record(
        self, key: TrialKey, w: Workload, started: float, io: TrialIO, measured: Measured
    ) -> Trial:
        trial = _trial(key, w, "ok", started, io, measured.instance, measured.accel)
        samples = [
            Sample.of(trial, name, value, _unit(w, name), _higher(w, name))
            for name, value in measured.metrics.items()
        ]
        for s in measured.summary:
            for stat in ("mean", "peak"):
                metric = f"{s.source}.{s.field}.{stat}"
                # resource use: less is better, whatever the workload measures
                samples.append(
                    Sample.of(trial, metric, getattr(s, stat), s.unit, False, "collector")
                )
        series = [_series(key.id, r) for r in measured.readings]
        self.writer.record_trial(trial, samples, series)
        for note in measured.notes:
            named = {"trial_id": key.id, "workload": key.workload, "platform": key.platform}
            self.writer.event(replace(note, message=f"{key.id}: {note.message}",
                                      data={**note.data, **named}))  # fmt: skip
        self.tally.ok += 1
        return trial

    def _record_failure(
        self, key: TrialKey, w: Workload, started: float, io: TrialIO, failure: TrialFailed
    ) -> Trial:
        trial = _trial(
            key,
            w,
            "failed",
            started,
            io,
            failure.instance,
            failure.accel,
            error=failure.message,
            cause=failure.cause,
        )
        self.writer.record_trial(trial, [], [])
        self.tally.failed += 1
        if failure.cause == "start-failed":
            self._note_start_failure(key.platform, failure.message)
        elif failure.cause == "daemon-lost":
            self._drop(key.platform, failure.message, LOST_ADVICE)
        return trial

    def _note_start_failure(self, platform: str, message: str) -> None:
        count = self._start_failures.get(platform, 0) + 1
        self._start_failures[platform] = count
        if count >= MAX_START_FAILURES:
            self._drop(
                platform,
                f"failed to start {count} times in a row (last: {message})",
                "run `vcbench doctor`, fix what it names, then `vcbench run --resume`",
            )

    def _drop(self, platform: str, why: str, advice: str) -> None:
        """No more trials on this platform in this run; --resume runs the ones skipped."""
        if platform in self.tally.dropped:
            return
        self.tally.dropped.append(platform)
        self.writer.event(
            Event(
                "dropped-platform",
                f"{platform} was dropped for the rest of the run: {why}",
                advice,
                at=time.time(),
                data={"platform": platform},
            )
        )


@contextmanager
def open_platforms(names: Sequence[str], config: PlatformConfig) -> Iterator[dict[str, Platform]]:
    """The named platforms, open together; closed (their shared networks removed) on leaving."""
    with ExitStack() as stack:
        yield {p: stack.enter_context(open_platform(p, config)) for p in names}


def _rounds(keys: Sequence[TrialKey]) -> Iterator[list[TrialKey]]:
    """The schedule cut into rounds: each round gets its own instances."""
    for _, group in itertools.groupby(keys, key=lambda k: k.round):
        yield list(group)


def _trial(
    key: TrialKey,
    w: Workload,
    status: Status,
    started: float,
    io: TrialIO,
    instance: str = "",
    accel: str = "",
    *,
    error: str = "",
    cause: str = "",
) -> Trial:
    return Trial(
        key.id,
        key.round,
        w.name,
        w.definition_hash(),
        key.platform,
        key.warmup,
        status,
        started,
        time.time(),
        instance,
        accel,
        error=error,
        cause=cause,
        raw=tuple(io.written),
        profile=profile_of(key.platform),
    )


def _declared(w: Workload, metric: str) -> Metric:
    """The metric as the workload declares it; wall_s is the runner's own. Workload loading
    refuses a metric its kind cannot produce, so anything else here is a bug, said loudly."""
    if metric == WALL_METRIC:
        return WALL
    if metric not in w.metrics:
        raise BenchError(f"workload {w.name} produced {metric!r}, which it does not declare")
    return w.metrics[metric]


def _unit(w: Workload, metric: str) -> str:
    return _declared(w, metric).unit


def _higher(w: Workload, metric: str) -> bool:
    return _declared(w, metric).higher_is_better


def _series(trial_id: str, reading: Reading) -> dict[str, Any]:
    return {"trial_id": trial_id, **asdict(reading)}
