"""The claim experiments' framework on FAKE platforms and experiments (unit tests only;
tests/integration/test_experiments.py runs the real ones on the real daemons): the registry
and the suites' tables, the stage's records, end events and resume, and the pure parsers."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench.core.errors import BenchError, PlatformError
from bench.core.workload import WorkloadFileError, load_all, load_suite
from bench.data.outcomes import current_records, outcomes
from bench.data.results import ExperimentRecord, RunWriter, load_run
from bench.experiments import catalog as registry
from bench.experiments.context import ExperimentContext
from bench.experiments.hostside import allocated_bytes, guest_ram_mapping, parse_smaps
from bench.experiments.stage import pending, run_experiments
from bench.experiments.visibility import parse_look
from bench.platforms import lifecycle
from bench.platforms.labels import RunContext
from bench.platforms.protocol import (
    ExecResult,
    Instance,
    InstanceInfo,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
)
from bench.run.runner import RunPlan

LIMITS = Limits(1, 512, (0,))
FREE = (
    "               total        used        free      shared  buff/cache   available\n"
    "Mem:      1020002304    41000000   900000000      100000    80000000   950000000\n"
    "Swap:              0           0           0\n"
)


class FakeInstance(Instance):
    """Answers the visibility look like a VM with 512 MiB and the run's vCPUs."""

    platform = "fake"
    kernel = "guest-kernel"

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        return ExecResult(f"{self.limits.vcpus}\nMemTotal:  996096 kB\n{FREE}", "", 0, 0.01)

    def probe(self) -> InstanceInfo:
        self.info = InstanceInfo(self.limits.vcpus, 972, None, self.kernel)
        return self.info


class FakePlatform(Platform):
    name = "fake"
    kernel = "guest-kernel"

    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        instance = FakeInstance(name, spec.limits, Path("/dev/null"))
        instance.kernel = self.kernel
        return instance


class FakeHostPlatform(FakePlatform):
    kernel = os.uname().release


class Counting:
    """Yields `count` records, then raises `error` if given."""

    name = "counting"
    claims = ("C0",)
    defaults: ClassVar[dict[str, Any]] = {"count": 2}
    error: BaseException | None = None

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        for n in range(int(ctx.settings.get("count", 2))):
            yield ExperimentRecord(self.name, "fake", "n", float(n), "count", n)
        if self.error is not None:
            raise self.error


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformConfig:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = RunContext.create("20260101-000000-abcdef", log_dir=tmp_path / "logs")
    return PlatformConfig(run, images=None)  # type: ignore[arg-type]


@pytest.fixture
def writer(tmp_path: Path) -> RunWriter:
    return RunWriter.create(tmp_path / "run", {"run_id": "20260101-000000-abcdef"})


def fakes(monkeypatch: pytest.MonkeyPatch, **errors: BaseException | None) -> None:
    """Each named experiment becomes a Counting one that ends with its error (or none)."""

    def make(name: str) -> Any:
        experiment = Counting()
        experiment.name = name
        experiment.error = errors[name]
        return experiment

    monkeypatch.setattr(registry, "make", make)


def stage(config: PlatformConfig, writer: RunWriter, names: Sequence[str]) -> list[Any]:
    seen: list[tuple[str, str]] = []
    chosen = pending([(n, {"count": 2}) for n in names], writer)
    found = run_experiments(
        chosen,
        {"fake": FakePlatform(config)},
        LIMITS,
        config,
        writer,
        lambda name, _p, _t, o: seen.append((name, o.status if o else "start")),
    )
    return [found, seen]


# The registry and the suites


def test_every_shipped_suite_chooses_known_experiments_with_valid_settings() -> None:
    suites = ("full", "claims", "quick")
    chosen = {s: registry.choose(load_suite(s).experiments, None, s) for s in suites}
    assert {"kernel", "visibility", "image-size", "disk-per-instance", "memory"} <= {
        name for name, _ in chosen["full"]
    }
    claims = dict(chosen["claims"])
    assert claims["memory"]["touch_mib"] == 64 and claims["memory"]["settle_s"] == 1.0
    assert {name for name, _ in chosen["quick"]} == {"kernel", "visibility", "image-size"}
    assert registry.choose(load_suite("tiny").experiments, None, "tiny") == ()


def test_experiments_run_in_registry_order_with_the_suites_settings() -> None:
    table = {"memory": {"repeats": 4}, "kernel": {}}
    chosen = registry.choose(table, ["memory", "kernel", "visibility"], "suite x")
    assert [name for name, _ in chosen] == ["kernel", "visibility", "memory"]
    assert dict(chosen)["memory"] == {"repeats": 4, "touch_mib": 256, "settle_s": 2.0}
    assert registry.choose(table, [], "suite x") == ()


@pytest.mark.parametrize(
    ("table", "names", "message"),
    [
        ({"bogus": {}}, None, "unknown experiment 'bogus'"),
        ({}, ["kernel", "bogus"], "unknown experiment 'bogus'"),
        ({"memory": {"touch": 1}}, None, "experiments.memory.touch: unknown setting"),
        ({"memory": {"repeats": "3"}}, None, "expected int, got '3'"),
        ({"memory": {"repeats": True}}, None, "expected int, got True"),
        ({"memory": {"repeats": 0}}, None, "must be positive"),
        ({"kernel": {"repeats": 3}}, None, "known: none"),
    ],
)
def test_a_bad_choice_is_refused_in_one_line(
    table: dict[str, Any], names: list[str] | None, message: str
) -> None:
    with pytest.raises(BenchError) as caught:
        registry.choose(table, names, "suite x")
    assert message in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_a_float_setting_takes_an_int() -> None:
    assert registry.resolve("memory", {"settle_s": 1}, "x")["settle_s"] == 1


def test_an_experiment_missing_from_the_checkout_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.EXPERIMENTS, "kernel", "no_such_module:Nothing")
    with pytest.raises(BenchError, match="not in this checkout"):
        registry.choose({"kernel": {}}, None, "suite x")


def test_experiments_option_parses_names_and_none() -> None:
    assert registry.parse_names("none") == []
    assert registry.parse_names(" kernel, memory ") == ["kernel", "memory"]
    with pytest.raises(BenchError):
        registry.parse_names(" , ")


def test_a_suite_experiments_table_is_validated_strictly(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "x.toml").write_text(
        'name = "x"\ndescription = "d"\nworkloads = []\n[experiments]\n"Bad Name" = {}\n'
    )
    with pytest.raises(WorkloadFileError, match="experiments"):
        load_suite("x", tmp_path)


def test_an_unknown_experiment_on_the_command_line_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.cli import main as cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--suite", "tiny", "--experiments", "kernel,bogus"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("vcbench: error: ") and "unknown experiment 'bogus'" in err
    assert len(err.strip().splitlines()) == 1


def test_the_plan_keeps_its_experiments_through_run_json() -> None:
    workload = load_all()["cpu-sysbench"]
    chosen = registry.choose({"memory": {"repeats": 3}}, None, "x")
    plan = RunPlan("r", "quick", (workload,), ("native",), LIMITS, 1, experiments=chosen)
    data = plan.to_json()
    assert data["experiments"] == {"memory": {"repeats": 3, "touch_mib": 256, "settle_s": 2.0}}
    assert RunPlan.from_json(data).experiments == chosen
    del data["experiments"]  # a run from before the experiments existed
    assert RunPlan.from_json(data).experiments == ()


# The stage: records, end events, resume


def test_records_are_written_and_each_end_is_an_event(
    config: PlatformConfig, writer: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes(monkeypatch, kernel=None, memory=None)
    found, seen = stage(config, writer, ["kernel", "memory"])
    assert [o.status for o in found] == ["ok", "ok"]
    assert seen == [("kernel", "start"), ("kernel", "ok"), ("memory", "start"), ("memory", "ok")]
    run = load_run(writer.dir)
    assert [(r.experiment, r.value) for r in run.experiments] == [
        ("kernel", 0.0),
        ("kernel", 1.0),
        ("memory", 0.0),
        ("memory", 1.0),
    ]
    assert all(r.at > 0 and r.detail["attempt"] > 0 for r in run.experiments)
    ends = [e for e in run.events if e.kind == "experiment"]
    assert [(e.data["name"], e.data["status"], e.data["records"]) for e in ends] == [
        ("kernel", "ok", 2),
        ("memory", "ok", 2),
    ]


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (PlatformError("vm-1: the guest agent went away"), "the guest agent went away"),
        (RuntimeError("line one\nline two"), "RuntimeError: line one"),
    ],
)
def test_a_failing_experiment_is_recorded_and_the_others_go_on(
    config: PlatformConfig,
    writer: RunWriter,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    cause: str,
) -> None:
    fakes(monkeypatch, kernel=error, memory=None)
    found, _ = stage(config, writer, ["kernel", "memory"])
    assert [o.status for o in found] == ["failed", "ok"]
    assert cause in found[0].cause and "\n" not in found[0].cause
    run = load_run(writer.dir)
    assert len([r for r in run.experiments if r.experiment == "kernel"]) == 2  # kept
    assert outcomes(run)["kernel"].status == "failed"


def test_resume_skips_what_ended_well_and_runs_the_rest_again(
    config: PlatformConfig, writer: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes(monkeypatch, kernel=None, memory=PlatformError("boom"), visibility=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        stage(config, writer, ["kernel", "memory", "visibility"])
    run = load_run(writer.dir)
    assert {n: o.status for n, o in outcomes(run).items()} == {
        "kernel": "ok",
        "memory": "failed",
        "visibility": "interrupted",
    }
    fakes(monkeypatch, kernel=None, memory=None, visibility=None)
    found, _ = stage(config, writer, ["kernel", "memory", "visibility"])
    assert [o.name for o in found] == ["memory", "visibility"]
    run = load_run(writer.dir)
    assert {o.status for o in outcomes(run).values()} == {"ok"}
    # the cut-short attempt's records are in the file, not among those that count
    assert len([r for r in run.experiments if r.experiment == "visibility"]) == 4
    counted = current_records(run)
    assert (
        sorted(r.experiment for r in counted)
        == ["kernel"] * 2 + ["memory"] * 2 + ["visibility"] * 2
    )


# The cheap experiments on fake instances


def ctx(config: PlatformConfig, settings: dict[str, Any] | None = None) -> ExperimentContext:
    platforms = {"native": FakeHostPlatform(config), "libvirt": FakePlatform(config)}
    return ExperimentContext(platforms, LIMITS, None, "tcg", settings or {})  # type: ignore[arg-type]


def test_kernel_asks_every_platform_and_compares_with_the_host(config: PlatformConfig) -> None:
    records = list(registry.make("kernel").run(ctx(config)))
    assert [(r.platform, r.metric, r.value) for r in records] == [
        ("native", "uname-r", None),
        ("libvirt", "uname-r", None),
    ]
    assert records[0].text == os.uname().release and records[0].detail["same_as_host"]
    assert records[1].text == "guest-kernel" and not records[1].detail["same_as_host"]


def test_visibility_records_what_is_seen_beside_what_was_set(config: PlatformConfig) -> None:
    records = list(registry.make("visibility").run(ctx(config)))
    vm = {r.metric: r.value for r in records if r.platform == "libvirt"}
    assert vm == {
        "nproc": 1.0,
        "mem-total-bytes": 996096 * 1024.0,
        "free-total-bytes": 1020002304.0,
        "limit-vcpus": 1.0,
        "limit-memory-bytes": 512 * 2.0**20,
    }
    assert {r.unit for r in records} == {"count", "B"}


# Pure parsers and host readers


def test_parse_look_reads_nproc_meminfo_and_free() -> None:
    assert parse_look(f"2\nMemTotal:  996096 kB\n{FREE}") == (2, 996096 * 1024, 1020002304)
    with pytest.raises(PlatformError):
        parse_look("2\nMemTotal: 1 kB\nno free here\n")


SMAPS = """\
55d0c0000000-55d0c0100000 r-xp 00000000 08:01 1234   /usr/bin/qemu-system-x86_64
Size:               1024 kB
Rss:                 800 kB
7f0000000000-7f0040000000 rw-p 00000000 00:00 0
Size:            1048576 kB
Rss:              200000 kB
7f1000000000-7f1000200000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                1000 kB
7f2000000000-7f203ffff000 rwxp 00000000 00:00 0
Size:            1048572 kB
Rss:              900000 kB
"""


def test_the_guest_ram_is_the_anonymous_mapping_of_its_size() -> None:
    mappings = parse_smaps(SMAPS)
    assert [m.path for m in mappings] == ["/usr/bin/qemu-system-x86_64", "", "", ""]
    ram = guest_ram_mapping(mappings, 1024 * 2**20)
    assert (ram.size, ram.rss) == (1024 * 2**20, 200000 * 1024)
    # a 1000 MiB guest: TCG's executable code buffer (1 GiB, more resident) is never taken
    assert guest_ram_mapping(mappings, 1000 * 2**20).rss == 200000 * 1024
    with pytest.raises(PlatformError):
        guest_ram_mapping(mappings, 2048 * 2**20)


def test_allocated_bytes_counts_what_a_sparse_file_holds(tmp_path: Path) -> None:
    sparse = tmp_path / "disk.raw"
    with open(sparse, "wb") as file:
        file.truncate(1 << 30)
        file.write(b"x" * 65536)
    assert allocated_bytes(sparse) < 1 << 20
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"y" * 8192)
    os.link(tmp_path / "d" / "f", tmp_path / "d" / "g")  # a hard link is counted once
    assert 8192 <= allocated_bytes(tmp_path / "d") < 8192 * 2 + 8192


def test_vcbench_run_measures_pending_experiments_on_the_platforms_not_dropped(
    config: PlatformConfig, writer: RunWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.cli.run_session import Output, _run_experiments
    from bench.platforms import registry as platforms

    seen: list[list[str]] = []

    class Looking(Counting):
        def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
            seen.append(list(ctx.platforms))
            yield from super().run(ctx)

    for name in ("native", "docker"):
        monkeypatch.setitem(platforms.PLATFORMS, name, FakePlatform)
    monkeypatch.setattr(registry, "make", lambda name: Looking())
    workload = load_all()["cpu-sysbench"]
    chosen = (("kernel", {"count": 1}),)
    plan = RunPlan("r", "x", (workload,), ("native", "docker"), LIMITS, 1, experiments=chosen)
    out = Output(quiet=True, as_json=False, results=writer.dir, reports=writer.dir)
    assert _run_experiments(plan, writer, config, out, ["docker"]) == []
    assert seen == [["native"]]
    assert _run_experiments(plan, writer, config, out, []) == []  # ended well: not again
    assert seen == [["native"]]
