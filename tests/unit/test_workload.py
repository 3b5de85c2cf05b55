"""Workload and suite files: validated before anything starts, one line naming file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.core.workload import WorkloadFileError, fill, load_all, load_suite, load_workload, select
from bench.platforms.vm_profile import parse_profiles

GOOD = """
name = "w"
description = "a test workload"
command = ["sysbench", "cpu", "--threads={vcpus}", "--time={duration}", "run"]
parser = "sysbench-cpu"
duration = 3
[metrics]
events_per_s = { unit = "events/s", higher_is_better = true }
"""


def write(tmp: Path, text: str, name: str = "w") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


def test_the_shipped_workloads_and_suites_load() -> None:
    found = load_all()
    assert {
        "cpu-sysbench",
        "memory-read",
        "disk-randread-4k",
        "net-iperf3",
        "net-sockperf",
        "startup-cold",
        "idle-footprint",
    } <= set(found)
    for suite in ("quick", "claims", "full", "tiny"):
        assert select(suite)
    quick = {w.name: w for w in select("quick")}
    assert quick["cpu-sysbench"].duration < found["cpu-sysbench"].duration


def test_the_suites_that_feed_the_claims_run_the_emulated_vm_profile_too() -> None:
    for suite in ("quick", "claims", "full", "tiny"):
        profiles = load_suite(suite).vm_profiles
        assert profiles[0] == "default" and parse_profiles(",".join(profiles)) == profiles
    assert load_suite("claims").vm_profiles == ("default", "emulated")  # C9
    assert load_suite("full").vm_profiles == ("default", "tuned", "emulated")
    # CI's end-to-end run and the ten-minute first look stay on the default VM
    assert load_suite("tiny").vm_profiles == load_suite("quick").vm_profiles == ("default",)


def test_claims_is_quick_repeated_for_the_gate_with_the_emulated_vm_and_every_experiment() -> None:
    quick, claims = load_suite("quick"), load_suite("claims")
    assert claims.extends == "quick" and claims.name == "claims"
    assert claims.workloads == quick.workloads and set(claims.overrides) == set(quick.overrides)
    # the same short runs, repeated often enough for the gate to judge every claim
    for name, over in claims.overrides.items():
        assert over == {**quick.overrides[name], "repeats": 7}
    assert set(quick.experiments) < set(claims.experiments) == set(load_suite("full").experiments)


def suites(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text)
    return tmp_path


BASE = """name = "base"
description = "the base"
workloads = ["cpu-sysbench"]
vm_profiles = ["default", "emulated"]
[overrides]
cpu-sysbench = { repeats = 2 }
[experiments]
kernel = {}
"""


def test_an_extending_suite_takes_the_base_keys_it_does_not_set(tmp_path: Path) -> None:
    child = 'name = "child"\ndescription = "more"\nextends = "base"\n[experiments]\nmemory = {}\n'
    folder = suites(tmp_path, base=BASE, child=child)
    suite = load_suite("child", folder)
    assert (suite.name, suite.description, suite.workloads) == ("child", "more", ("cpu-sysbench",))
    assert suite.vm_profiles == ("default", "emulated") and dict(suite.overrides) == {
        "cpu-sysbench": {"repeats": 2}
    }
    assert dict(suite.experiments) == {"memory": {}}  # a key it sets replaces the base's whole


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a": 'name = "a"\ndescription = "x"\nextends = "nope"'}, "suite a: extends: unknown"),
        ({"a": 'name = "a"\ndescription = "x"\nextends = "a"'}, r"a loop \(a -> a\)"),
        (
            {
                "a": 'name = "a"\ndescription = "x"\nextends = "b"',
                "b": 'name = "b"\ndescription = "y"\nextends = "a"',
            },
            r"a loop \(a -> b -> a\)",
        ),
        ({"a": 'name = "a"\ndescription = "x"\nextends = 3\nworkloads = []'}, "extends"),
        ({"a": 'name = "a"\ndescription = "x"\nextends = "../a"'}, "unknown suite '../a'"),
        ({"a": 'name = "a"\ndescription = "x"\nextends = "b"', "b": "name = 1"}, "b.toml"),
    ],
)
def test_a_bad_extends_is_one_line_naming_the_file_and_key(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(WorkloadFileError, match=message):
        load_suite("a", suites(tmp_path, **files))


def test_a_good_file_loads_frozen_and_fills_its_template(tmp_path: Path) -> None:
    w = load_workload(write(tmp_path, GOOD))
    assert fill(w.command, {"vcpus": 2, "duration": 3}) == [
        "sysbench",
        "cpu",
        "--threads=2",
        "--time=3",
        "run",
    ]
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        w.duration = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("duration = 3", "duration = -1"),
        ('parser = "sysbench-cpu"', 'parser = "nope"'),
        ("duration = 3", 'duration = "ten"'),
        ("duration = 3", "duration = 3\nbogus = 1"),
        ("--threads={vcpus}", "--threads={cores}"),
        ('unit = "events/s", higher_is_better = true', 'unit = "events/s"'),
        ("events_per_s =", "made_up ="),
        ("duration = 3", "duration = 99999"),
    ],
)
def test_bad_files_fail_in_one_line_naming_the_file_and_key(
    tmp_path: Path, change: str, expected: str
) -> None:
    path = write(tmp_path, GOOD.replace(change, expected))
    with pytest.raises(WorkloadFileError) as info:
        load_workload(path)
    line = info.value.one_line()
    assert str(path) in line and "\n" not in line


def test_messages_say_what_was_expected(tmp_path: Path) -> None:
    cases = {
        'parser = "nope"': "unknown parser 'nope'",
        "duration = -1": "duration",
        "bogus = 1\n": "bogus: unknown key",
        "--threads={cores}": "unknown placeholder {cores}",
    }
    for bad, says in cases.items():
        text = GOOD.replace('parser = "sysbench-cpu"', bad) if "parser" in bad else GOOD
        if "duration" in bad:
            text = GOOD.replace("duration = 3", bad)
        elif "bogus" in bad:
            text = GOOD + bad
        elif "cores" in bad:
            text = GOOD.replace("--threads={vcpus}", bad)
        with pytest.raises(WorkloadFileError, match=rf".*{says.split(':')[0]}"):
            load_workload(write(tmp_path, text))


IDLE = """
name = "w"
description = "an idle workload"
kind = "idle"
duration = 3
[metrics]
memory_mib = { unit = "MiB", higher_is_better = false }
"""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (IDLE.replace("memory_mib =", "memory_pss ="), "an idle workload reports no memory_pss"),
        (GOOD + 'wall_s = { unit = "s", higher_is_better = false }\n', "wall_s is the runner's"),
        (
            GOOD.replace('parser = "sysbench-cpu"', 'kind = "startup"').replace(
                "events_per_s =", "boot_s ="
            ),
            "a startup workload reports no boot_s",
        ),
    ],
    ids=["idle", "wall", "startup"],
)
def test_a_metric_the_workload_cannot_produce_is_refused_at_load_naming_file_and_metric(
    tmp_path: Path, text: str, says: str
) -> None:
    """Before, the runner would label such a metric seconds, lower is better (or drop it)."""
    path = write(tmp_path, text)
    with pytest.raises(WorkloadFileError) as info:
        load_workload(path)
    line = info.value.one_line()
    assert str(path) in line and says in line and "\n" not in line
    assert load_workload(write(tmp_path, IDLE)).metrics["memory_mib"].unit == "MiB"


def test_not_toml_nul_bytes_huge_files_and_directories_are_refused(tmp_path: Path) -> None:
    for content in (b"name = [", b'name = "w"\0', b"x" * (300 * 1024)):
        path = tmp_path / "w.toml"
        path.write_bytes(content)
        with pytest.raises(WorkloadFileError):
            load_workload(path)
    (tmp_path / "d.toml").mkdir()
    with pytest.raises(WorkloadFileError, match="directory"):
        load_workload(tmp_path / "d.toml")


def test_the_file_name_must_match_the_name(tmp_path: Path) -> None:
    with pytest.raises(WorkloadFileError, match="differs from the file name"):
        load_workload(write(tmp_path, GOOD, name="other"))


def test_overrides_are_validated_and_change_the_hash_only_when_they_define_samples() -> None:
    w = load_all()["cpu-sysbench"]
    more = w.with_overrides({"repeats": 9, "warmup": 3}, "test")
    assert more.repeats == 9 and more.definition_hash() == w.definition_hash()
    assert w.with_overrides({"duration": 2}, "test").definition_hash() != w.definition_hash()
    with pytest.raises(WorkloadFileError, match="cannot override command"):
        w.with_overrides({"command": ["true"]}, "test")
    with pytest.raises(WorkloadFileError, match="repeats"):
        w.with_overrides({"repeats": 0}, "command line")


def test_unknown_suite_and_workload_name_the_known_ones() -> None:
    with pytest.raises(WorkloadFileError) as suite:
        select("nope")
    assert "choose one of" in suite.value.one_line() and "quick" in suite.value.one_line()
    with pytest.raises(WorkloadFileError) as workload:
        select("quick", picks=["nope"])
    assert "cpu-sysbench" in workload.value.one_line()


UNSUPPORTED = GOOD.replace(
    "[metrics]", '[unsupported]\ngvisor = "gVisor refuses O_DIRECT on this file"\n[metrics]'
)


def test_a_workload_declares_where_it_cannot_run_without_changing_its_hash(
    tmp_path: Path,
) -> None:
    plain = load_workload(write(tmp_path, GOOD))
    w = load_workload(write(tmp_path, UNSUPPORTED))
    assert w.unsupported == {"gvisor": "gVisor refuses O_DIRECT on this file"}
    assert not w.runs_on_platform("gvisor")
    assert w.runs_on_platform("podman") and w.runs_on_platform("docker")
    assert w.definition_hash() == plain.definition_hash()  # where it runs is not what it is


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[unsupported]\nmars = "no"', "unsupported.mars.[key]"),
        ('[unsupported]\ngvisor = " "', "give the reason"),
    ],
)
def test_an_unsupported_table_names_known_platforms_with_reasons(
    tmp_path: Path, table: str, expected: str
) -> None:
    with pytest.raises(WorkloadFileError, match=re.escape(expected)):
        load_workload(write(tmp_path, GOOD.replace("[metrics]", f"{table}\n[metrics]")))


def test_an_unsupported_platform_is_left_out_of_the_run_and_recorded_as_skipped(
    tmp_path: Path,
) -> None:
    from bench.cli.run import _on_platforms
    from bench.cli.run_session import skip_events

    w = load_workload(write(tmp_path, UNSUPPORTED))
    kept = _on_platforms([w], ("native", "gvisor"))
    assert [k.platforms for k in kept] == [("native",)]
    (event,) = skip_events(kept, ("native", "gvisor"), at=1.0)
    assert event.kind == "skipped"
    assert event.data == {"workload": "w", "platform": "gvisor", "reason": w.unsupported["gvisor"]}
    assert "w does not run on gvisor: gVisor refuses O_DIRECT" in event.message
    assert skip_events(kept, ("native",), at=1.0) == []


def test_this_hosts_gvisor_on_the_host_network_skips_server_workloads_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench.cli.run import _on_platforms
    from bench.cli.run_session import skip_events
    from bench.platforms import host_refusals

    found = load_all()
    monkeypatch.setattr(host_refusals, "gvisor_network", lambda: "host")
    chosen = [found["net-iperf3"], found["net-sockperf"], found["syscall-small-io"]]
    kept = {w.name: w for w in _on_platforms(chosen, ("docker", "gvisor"))}
    assert kept["net-iperf3"].platforms == ("docker",)
    assert "EAGAIN" in kept["net-iperf3"].unsupported["gvisor"]
    assert kept["net-sockperf"].unsupported == found["net-sockperf"].unsupported  # its own
    assert "gvisor" in kept["syscall-small-io"].platforms  # no server: the stack is moot
    events = skip_events(list(kept.values()), ("docker", "gvisor"), at=1.0)
    assert {e.data["workload"] for e in events} == {"net-iperf3", "net-sockperf"}
    monkeypatch.setattr(host_refusals, "gvisor_network", lambda: "sandbox")
    assert host_refusals.with_host_refusals([found["net-iperf3"]], ["gvisor"]) == [
        found["net-iperf3"]
    ]


def test_the_syscall_workload_runs_everywhere_and_is_in_quick() -> None:
    w = load_all()["syscall-small-io"]
    assert w.platforms == ("native", "docker", "podman", "gvisor", "libvirt")
    assert w.parser == "time-s" and set(w.metrics) == {"seconds"}
    assert "syscall-small-io" in load_suite("quick").workloads


def test_the_suites_that_feed_the_claims_run_gvisor_for_c13_and_the_rest_the_default() -> None:
    assert load_suite("quick").platforms == ("native", "docker", "gvisor", "libvirt")
    assert load_suite("claims").platforms == load_suite("quick").platforms  # extends quick
    assert load_suite("tiny").platforms is None and load_suite("full").platforms is None
