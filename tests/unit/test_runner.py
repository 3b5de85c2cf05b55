"""The runner's bookkeeping, on FAKE platforms (unit tests only; tests/integration/test_run.py
runs the same paths on the real daemons): failures recorded with their cause, a platform
that cannot start is dropped, resume skips what is recorded, siblings are paused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from bench.analysis.sequential import Design
from bench.collectors.records import SeriesSummary
from bench.core.errors import DaemonLost, PlatformError
from bench.core.workload import IDLE_METRICS, load_all
from bench.data.results import RunWriter, load_run
from bench.platforms import lifecycle
from bench.platforms.labels import RunContext
from bench.platforms.protocol import (
    ExecResult,
    Instance,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
)
from bench.run.adaptive import Adaptive
from bench.run.idle_footprint import MEMORY_BASIS, footprint, memory_basis
from bench.run.runner import Runner, RunPlan
from bench.run.trials import guest_phases

FIXTURES = Path(__file__).parent / "fixtures" / "parsers"
SYSBENCH = (FIXTURES / "sysbench-cpu.txt").read_text()


class FakeInstance(Instance):
    platform = "fake"
    events: ClassVar[list[str]] = []

    def __init__(self, name: str, behaviour: str) -> None:
        super().__init__(name, Limits(1, 256, (0,)), Path("/dev/null"))
        self.behaviour = behaviour

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        if self.behaviour == "exit-1":
            return ExecResult("", "boom: no such thing", 1, 0.01)
        if self.behaviour == "garbage":
            return ExecResult("not sysbench output", "", 0, 0.01)
        if self.behaviour == "lost":
            raise PlatformError(f"{self.name}: guest agent went away")
        if self.behaviour == "daemon-gone":
            raise DaemonLost("dockerd went away (Connection refused)")
        if self.behaviour == "oom":
            return ExecResult("", "", 137, 0.01)
        return ExecResult(SYSBENCH, "", 0, 0.01)

    def oom_kills(self) -> int | None:
        return 1 if self.behaviour == "oom" else 0

    def pause(self) -> None:
        if self.behaviour == "pause-gone":
            raise DaemonLost("dockerd went away (Connection refused)")
        self.events.append(f"pause {self.name}")

    def resume(self) -> None:
        self.events.append(f"resume {self.name}")

    def probe(self) -> Any:
        return None


def fake_platform(kind: str, behaviour: str) -> type[Platform]:
    class Fake(Platform):
        name = kind

        def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
            if behaviour == "no-start":
                raise PlatformError(f"{name}: cannot start (fake)")
            return FakeInstance(name, behaviour)

    return Fake


@pytest.fixture
def make_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def make(
        behaviours: dict[str, str],
        repeats: int = 3,
        done: set[str] | None = None,
        adaptive: Adaptive | None = None,
    ) -> Any:
        from bench.platforms import registry

        for kind, behaviour in behaviours.items():
            monkeypatch.setitem(registry.PLATFORMS, kind, fake_platform(kind, behaviour))
        workload = load_all()["cpu-sysbench"].with_overrides(
            {"repeats": repeats, "warmup": 0, "duration": 1}, "test"
        )
        plan = RunPlan(
            "20260101-000000-abcdef",
            "custom",
            (workload,),
            tuple(behaviours),
            Limits(1, 256, (0,)),
            seed=1,
            adaptive=adaptive,
        )
        directory = tmp_path / "results" / plan.run_id
        if done is None:
            writer = RunWriter.create(directory, {"run_id": plan.run_id, "plan": plan.to_json()})
        else:
            writer = RunWriter.reopen(directory)
        context = RunContext.create(plan.run_id, log_dir=directory / "logs")
        runner = Runner(plan, writer, PlatformConfig(context, images=None))  # type: ignore[arg-type]
        return runner, runner.run(done or set()), directory

    return make


def test_every_trial_is_recorded_with_its_samples(make_runner: Any) -> None:
    _, tally, directory = make_runner({"native": "ok", "docker": "ok"})
    run = load_run(directory)
    assert tally.ok == 6 and tally.failed == 0
    values = [s.value for s in run.samples if s.metric == "events_per_s"]
    assert len(values) == 6 and values[0] > 0
    assert {s.metric for s in run.samples if s.origin == "collector"} >= {
        "host.mem_used_bytes.mean",
        "sampler.core_share.mean",
    }
    assert all((directory / raw).exists() for t in run.trials for raw in t.raw)


@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [
        ("exit-1", "exit-code"),
        ("garbage", "parse"),
        ("lost", "instance-lost"),
        ("oom", "oom"),
    ],
)
def test_a_failed_trial_is_recorded_with_its_cause_and_the_run_goes_on(
    make_runner: Any, behaviour: str, cause: str
) -> None:
    _, tally, directory = make_runner({"native": "ok", "docker": behaviour})
    run = load_run(directory)
    failed = [t for t in run.trials if t.status == "failed"]
    assert tally.failed == len(failed) == 3 and tally.ok == 3
    assert {t.cause for t in failed} == {cause} and all(t.error for t in failed)
    assert "\n" not in failed[0].error
    # the instance it failed on is named, so its console log can be found
    assert all("-docker-" in t.instance and t.accel == "host" for t in failed)


def test_a_platform_that_cannot_start_is_dropped_after_three_tries(make_runner: Any) -> None:
    _, tally, directory = make_runner({"native": "ok", "docker": "no-start"}, repeats=5)
    run = load_run(directory)
    assert tally.dropped == ["docker"] and tally.skipped == 2
    assert [t.cause for t in run.trials if t.platform == "docker"] == ["start-failed"] * 3
    dropped = [e for e in run.events if e.kind == "dropped-platform"]
    assert len(dropped) == 1 and "--resume" in dropped[0].advice


def test_an_oom_kill_is_told_apart_from_an_exit_code_and_the_instance_replaced(
    make_runner: Any,
) -> None:
    _, _, directory = make_runner({"native": "ok", "docker": "oom"})
    failed = [t for t in load_run(directory).trials if t.status == "failed"]
    assert "killed by the OOM killer at the 256 MiB memory limit (exit 137" in failed[0].error


def test_a_daemon_that_went_away_drops_its_platform_at_once(make_runner: Any) -> None:
    _, tally, directory = make_runner({"native": "ok", "docker": "daemon-gone"}, repeats=3)
    run = load_run(directory)
    docker = [t for t in run.trials if t.platform == "docker"]
    assert [(t.cause, t.error) for t in docker] == [
        ("daemon-lost", "dockerd went away (Connection refused)")
    ]
    assert tally.dropped == ["docker"] and tally.skipped == 2 and tally.ok == 3
    (dropped,) = [e for e in run.events if e.kind == "dropped-platform"]
    assert "dockerd went away" in dropped.message and "host setup" in dropped.advice


def test_a_paused_sibling_whose_daemon_went_away_is_dropped_not_fatal(make_runner: Any) -> None:
    # seed 1: native goes first in rounds 0 and 1, docker first (then paused) in round 2
    _, tally, directory = make_runner({"native": "ok", "docker": "pause-gone"}, repeats=4)
    run = load_run(directory)
    assert [t.platform for t in run.trials if t.round == 2] == ["docker", "native"]
    assert {t.status for t in run.trials} == {"ok"}
    assert tally.dropped == ["docker"] and tally.skipped == 1  # round 3's docker trial
    assert [e.kind for e in run.events] == ["dropped-platform"]


def test_resume_runs_only_what_is_not_recorded(make_runner: Any) -> None:
    _, _, directory = make_runner({"native": "ok"}, repeats=3)
    first = load_run(directory).done()
    _, tally, _ = make_runner({"native": "ok"}, repeats=3, done=first)
    assert tally.ok == 0 and len(load_run(directory).trials) == 3


def test_only_the_instance_being_measured_runs_the_others_are_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.run.pool import Pool

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    FakeInstance.events.clear()
    config = PlatformConfig(RunContext.create("20260101-000000-abcdef"), images=None)  # type: ignore[arg-type]
    platforms = {k: fake_platform(k, "ok")(config) for k in ("a", "b")}
    with Pool(platforms, InstanceSpec(Limits(1, 256, (0,)))) as pool:
        pool.get("a")
        pool.get("b")
        pool.focus("a")
        pool.focus("b")
        pool.focus(None)
    prefix = "vcbench-20260101-000000-abcdef-"
    assert [e.replace(prefix, "") for e in FakeInstance.events] == [
        "pause b-1",
        "pause a-1",
        "resume b-1",
        "pause b-1",
        "resume a-1",
        "resume b-1",
    ]


class BrokenSource:
    name = "broken"
    fields: ClassVar[dict[str, Any]] = {}

    def read(self) -> dict[str, float]:
        raise OSError("memory.stat vanished")


def test_collector_errors_in_a_command_trial_become_a_run_event_and_a_notice(
    make_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.report.notices import run_notices
    from bench.run import trials

    monkeypatch.setattr(trials, "sources_for", lambda instance: [BrokenSource()])
    _, tally, directory = make_runner({"native": "ok"}, repeats=2)
    run = load_run(directory)
    assert tally.ok == 2  # the figures stand
    found = [e for e in run.events if e.data.get("code") == "collector-error"]
    assert sorted(str(e.data["trial_id"]) for e in found) == sorted(t.trial_id for t in run.trials)
    assert "broken: OSError: memory.stat vanished" in found[0].message
    notices = [n for n in run_notices(run, pd.DataFrame(), "none") if n.code == "collector-error"]
    assert len(notices) == 1 and "(2 trials)" in notices[0].message
    assert {t for t, _ in notices[0].subjects} == {t.trial_id for t in run.trials}


def test_the_footprint_says_whether_memory_is_pss_rss_or_charged() -> None:
    pss = [
        SeriesSummary("qemu", "rss_bytes", "B", 3.0, 3.0, 10),
        SeriesSummary("qemu", "pss_bytes", "B", 2.0, 2.0, 3),
    ]
    assert memory_basis(pss)[0] == "pss"
    assert memory_basis(pss[:1]) == ("rss", MEMORY_BASIS["rss_bytes"][1])
    assert memory_basis([SeriesSummary("cgroup", "mem_bytes", "B", 1.0, 1.0, 2)])[0] == "cgroup"
    assert memory_basis([SeriesSummary("procs", "rss_bytes", "B", 1.0, 1.0, 2)])[0] == "rss"
    assert memory_basis([]) == ("", "")
    assert set(footprint(pss)) <= set(IDLE_METRICS)


def test_footprint_prefers_pss_and_reports_cpu_share() -> None:
    summary = [
        SeriesSummary("qemu", "rss_bytes", "B", 300 * 2**20, 310 * 2**20, 10),
        SeriesSummary("qemu", "pss_bytes", "B", 280 * 2**20, 290 * 2**20, 3),
        SeriesSummary("qemu", "cpu_s", "cores", 0.05, 0.2, 10),
        SeriesSummary("host", "cpu_s", "cores", 1.0, 2.0, 10),
    ]
    assert footprint(summary) == {"memory_mib": 280.0, "memory_peak_mib": 290.0, "cpu_pct": 5.0}
    cgroup = [SeriesSummary("cgroup", "mem_bytes", "B", 2**20, 2**21, 10)]
    assert footprint(cgroup) == {"memory_mib": 1.0, "memory_peak_mib": 2.0}
    assert footprint([SeriesSummary("host", "cpu_s", "cores", 1.0, 2.0, 10)]) == {}


def test_guest_phases_come_from_the_last_boot_in_the_console(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text(
        "VCBENCH-PHASE initramfs 9.0\nVCBENCH-PHASE init 9.5\nVCBENCH-PHASE ready 10.0\n"
        "noise\nVCBENCH-PHASE initramfs 1.5\r\nVCBENCH-PHASE init 2.0\nVCBENCH-PHASE ready 2.25\n"
    )
    phases = guest_phases(log, host_running_to_ready=3.0)
    assert phases == {
        "guest_kernel_s": 1.5,
        "guest_initramfs_s": 0.5,
        "guest_init_s": 0.25,
        "host_to_guest_s": 0.75,
    }
    log.write_text("VCBENCH-PHASE initramfs 1.5\n")
    assert guest_phases(log, 3.0) == {}


def test_an_adaptive_run_stops_when_every_figure_is_decided_and_resumes_alike(
    make_runner: Any,
) -> None:
    """Identical figures on both fakes: "no difference" at the first look that can call
    anything (n=7 of 12, two-sided), so the run stops there, not at 12; a resume replays the
    same looks and adds nothing."""
    adaptive = Adaptive(Design(max_n=12), budget_s=None)
    _, tally, directory = make_runner({"native": "ok", "docker": "ok"}, adaptive=adaptive)
    run = load_run(directory)
    assert {t.round for t in run.trials} == set(range(7)) and tally.ok == 14
    (stop,) = [e for e in run.events if e.kind == "adaptive-stop"]
    assert stop.data["stop"] == "decided" and stop.data["round"] == 7
    looks = [e for e in run.events if e.kind == "adaptive-look"]
    assert [e.data["round"] for e in looks] == [5, 6]  # both pairs still open there
    _, again, _ = make_runner({"native": "ok", "docker": "ok"}, done=run.done(), adaptive=adaptive)
    assert again.ok == 0 and len(load_run(directory).trials) == 14


def test_an_adaptive_run_stops_when_its_budget_is_spent(make_runner: Any) -> None:
    adaptive = Adaptive(Design(max_n=12), budget_s=1e-9)
    _, tally, directory = make_runner({"native": "ok", "docker": "ok"}, adaptive=adaptive)
    run = load_run(directory)
    (stop,) = [e for e in run.events if e.kind == "adaptive-stop"]
    assert stop.data["stop"] == "budget" and tally.ok == len(run.trials) == 2


def test_an_adaptive_round_measures_only_what_the_budgets_triage_kept(
    make_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner measures the look's choice: here the triage keeps native alone from the
    second round on, so docker has one trial, native reaches the largest n, and the stop says
    what the budget left open."""
    from bench.run import adaptive as adaptive_module

    monkeypatch.setattr(
        adaptive_module,
        "triage",
        lambda bundles, *_: frozenset(p for b in bundles for p in b.pairs if p[1] == "native"),
    )
    adaptive = Adaptive(Design(max_n=8), budget_s=3600.0)
    _, _, directory = make_runner({"native": "ok", "docker": "ok"}, adaptive=adaptive)
    run = load_run(directory)
    docker = [t for t in run.trials if t.platform == "docker"]
    native = [t for t in run.trials if t.platform == "native"]
    assert len(docker) == 1 and len(native) == 8
    # the largest n is reached, and the stop says the budget left a figure behind on the way
    (stop,) = [e for e in run.events if e.kind == "adaptive-stop"]
    assert stop.data["stop"] == "max n" and stop.data["open"]
    assert stop.message.endswith("; 1 pair(s) left short of it by the budget")
