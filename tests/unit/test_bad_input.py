"""Bad and hostile input on every command: one line on stderr, exit 2, no traceback, and
nothing started or created (the results root stays as it was).

Each case runs the real CLI in-process. Measuring is forbidden outright here: a run that got
past validation would call run_session.execute, which fails the test instead of starting anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.cli import execute as platforms_cli
from bench.cli import main as cli
from bench.cli import run_session
from bench.core import paths
from bench.data.results import load_run

FIXTURE_RUN = Path(__file__).parent.parent / "fixtures" / "runs" / "20261123-201342-6f5536"
HUGE_MIB = str(1 << 21)  # 2 TiB: within --memory's range, beyond any host this runs on


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    expect: str  # a piece of the one error line
    env: tuple[tuple[str, str], ...] = ()


def workload(body: str | bytes) -> Callable[[Path], Path]:
    data = body if isinstance(body, bytes) else body.encode()

    def make(where: Path) -> Path:
        path = where / "bad.toml"
        path.write_bytes(data)
        return path

    return make


GOOD = """name = "bad"
description = "a workload"
command = ["true"]
parser = "time-s"
metrics = { seconds = { unit = "s", higher_is_better = false } }
"""


def with_key(line: str) -> str:
    return GOOD + line + "\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results root with one finished run, bad workload files beside it, and nothing able
    to start a measurement."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE_RUN, results / FIXTURE_RUN.name)
    (tmp_path / "a-file").write_text("not a directory\n")
    bad = tmp_path / "bad"
    bad.mkdir()
    monkeypatch.setenv("VCBENCH_RESULTS", str(results))
    monkeypatch.setenv("VCBENCH_REPORTS", str(tmp_path / "reports"))
    monkeypatch.chdir(tmp_path)

    def refuse(*_: object) -> None:
        pytest.fail("bad input got as far as measuring")

    monkeypatch.setattr(run_session, "execute", refuse)
    monkeypatch.setattr(platforms_cli, "open_platform", refuse)
    cli._OPTIONS.debug = False
    return tmp_path


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], root: Path) -> str:
    before = files(root)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vcbench: error: "), err
    assert files(root) == before, "bad input created files"
    return lines[0]


# --- workload files, through `run --workload PATH` and `workloads` over their directory ----

BAD_WORKLOADS: list[tuple[str, Callable[[Path], Path], str]] = [
    ("a 10 MB string", workload(with_key(f'method = "{"x" * 10_000_000}"')), "too large"),
    ("a NUL byte", workload(GOOD.replace("a workload", "a\0workload")), "NUL byte"),
    ("not UTF-8", workload(GOOD.encode().replace(b"a workload", b"a \xff workload")), "UTF-8"),
    ("not TOML", workload("name = [unclosed\n"), "not valid TOML"),
    ("a negative duration", workload(with_key("duration = -5")), "duration"),
    ("a huge duration", workload(with_key("duration = 100000000000")), "duration"),
    ("a negative repeat count", workload(with_key("repeats = -1")), "repeats"),
    ("a huge repeat count", workload(with_key("repeats = 99999999")), "repeats"),
    ("a huge warm-up count", workload(with_key("warmup = 99999999")), "warmup"),
    ("a negative timeout", workload(with_key("timeout = -1.0")), "timeout"),
    ("an unknown key", workload(with_key("memory_mib = 1")), "unknown key"),
    (
        "an unknown placeholder",
        workload(GOOD.replace('["true"]', '["echo", "{secret}"]')),
        "unknown placeholder",
    ),
    ("a name that is a path", workload(GOOD.replace('"bad"', '"../../etc/passwd"')), "name"),
]


@pytest.mark.parametrize(
    ("what", "make", "expect"), BAD_WORKLOADS, ids=[c[0] for c in BAD_WORKLOADS]
)
def test_a_bad_workload_file_is_refused_by_run(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    what: str,
    make: Callable[[Path], Path],
    expect: str,
) -> None:
    path = make(home / "bad")
    line = one_line_exit_2(["run", "--workload", str(path)], capsys, home)
    assert expect in line and str(path) in line


@pytest.mark.parametrize(
    ("what", "make", "expect"), BAD_WORKLOADS, ids=[c[0] for c in BAD_WORKLOADS]
)
def test_a_bad_workload_file_is_refused_by_workloads(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    make: Callable[[Path], Path],
    expect: str,
) -> None:
    make(home / "bad")
    monkeypatch.setenv("VCBENCH_WORKLOADS", str(home / "bad"))
    assert expect in one_line_exit_2(["workloads"], capsys, home)


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("/etc/passwd", "not valid TOML"),
        ("/dev/zero", "not a regular file"),
        ("/proc/self/environ", "not a regular file"),
        ("/nonexistent/x.toml", "no such file"),
        ("/", "is a directory"),
    ],
)
def test_a_workload_path_outside_workloads_that_is_no_workload_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], target: str, expect: str
) -> None:
    assert expect in one_line_exit_2(["run", "--workload", target], capsys, home)


def test_a_fifo_is_refused_without_blocking(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = home / "bad" / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line_exit_2(["run", "--workload", str(fifo)], capsys, home)


def test_a_suite_naming_a_path_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(paths.checkout() / "workloads", home / "w")
    (home / "w" / "suites" / "evil.toml").write_text(
        'name = "evil"\ndescription = "x"\nworkloads = ["../../../etc/passwd"]\n'
    )
    monkeypatch.setenv("VCBENCH_WORKLOADS", str(home / "w"))
    assert "workloads" in one_line_exit_2(["run", "--suite", "evil"], capsys, home)


def test_a_suite_name_that_is_a_path_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "suite" in one_line_exit_2(["run", "--suite", "../../etc/passwd"], capsys, home)


# --- options of run and exec ---------------------------------------------------------------

OPTION_CASES = [
    (["run", "--duration", "-5"], "--duration"),
    (["run", "--duration", "99999999999"], "--duration"),
    (["run", "--repeats", "-1"], "--repeats"),
    (["run", "--repeats", "1000000"], "--repeats"),
    (["run", "--warmups", "-1"], "--warmups"),
    (["run", "--memory", HUGE_MIB], "more than this host has"),
    (["run", "--memory", "99999999999999"], "--memory"),
    (["run", "--memory", "-1"], "--memory"),
    (["run", "--vcpus", "1000"], "vCPUs"),
    (["run", "--cpuset", "0-9999"], "cpuset"),
    (["run", "--cpuset", "a-b"], "cpuset"),
    (["run", "--platforms", "native,vmware"], "--platforms"),
    (["run", "--suite", "no-such-suite"], "unknown suite"),
    (["run", "--workload", "no-such-workload"], "unknown workload"),
    (["run", "--sample-hz", "0"], "--sample-hz"),
    (["run", "--sample-hz", "nan"], "--sample-hz"),
    (["run", "--budget", "ten minutes"], "--budget"),
    (["run", "--budget", "0m"], "--budget"),
    (["exec", "--platform", "native", "--memory", HUGE_MIB, "true"], "more than this host has"),
    (["exec", "--platform", "native", "--memory", "-1", "true"], "memory"),
    (["exec", "--platform", "native", "--vcpus", "0", "true"], "vcpus"),
    (["exec", "--platform", "native", "--timeout", "-1", "true"], "--timeout"),
    (["exec", "--platform", "native", "--timeout", "nan", "true"], "--timeout"),
    (["exec", "--platform", "vmware", "true"], "--platform"),
    (["prune", "results", "--keep-raw-days", "-1"], "--keep-raw-days"),
    (["prune", "results", "--keep-raw-days", "nan"], "--keep-raw-days"),
    (["prune", "results"], "--keep-raw-days"),
    (["prune", "a-file", "--keep-raw-days", "1"], "a-file: not a directory"),
    (["prune", "no-such-dir", "--keep-raw-days", "1"], "no-such-dir: not a directory"),
]


@pytest.mark.parametrize(
    ("args", "expect"), OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES]
)
def test_a_bad_option_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], expect: str
) -> None:
    assert expect in one_line_exit_2(args, capsys, home)


# --- results directories and run ids --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--workload", "cpu-sysbench", "--results", "a-file"],
        ["run", "--resume", "20261123", "--results", "a-file"],
        ["report", "20261123"],
        ["export", "20261123", "--format", "csv"],
        ["compare", "20261123", "20261123"],
        ["publish", "site"],
    ],
    ids=["run", "resume", "report", "export", "compare", "publish"],
)
def test_a_results_directory_that_is_a_file_is_refused(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    monkeypatch.setenv("VCBENCH_RESULTS", str(home / "a-file"))
    assert "a-file" in one_line_exit_2(args, capsys, home)


def test_an_unwritable_results_directory_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root may write anywhere; a read-only file system stops even root.
    monkeypatch.setattr(os, "access", lambda path, mode, **_: mode != os.W_OK)
    line = one_line_exit_2(["run", "--workload", "cpu-sysbench"], capsys, home)
    assert "not writable" in line


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["run", "--resume", "20991231-000000-000000"], "no run"),
        (["run", "--resume", "2026113"], "no run"),  # truncated, and no id starts so
        (["run", "--resume", "x/../../etc"], "no run"),
        (["report", "20991231"], "no run"),
        (["export", "20991231", "--format", "csv"], "no run"),
        (["compare", FIXTURE_RUN.name, "20991231"], "no run"),
        (["images", "rm", "zzzz"], "zzzz"),
    ],
)
def test_a_run_id_that_does_not_exist_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], expect: str
) -> None:
    assert expect in one_line_exit_2(args, capsys, home)


def test_a_truncated_run_id_matching_several_runs_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = home / "results"
    shutil.copytree(results / FIXTURE_RUN.name, results / "20261123-201342-aaaaaa")
    line = one_line_exit_2(["run", "--resume", "20261123-2013"], capsys, home)
    assert "matches 2 runs" in line


def test_a_torn_last_sample_line_is_skipped_with_a_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = home / "results" / FIXTURE_RUN.name
    with (run_dir / "samples.jsonl").open("a") as samples:
        samples.write('{"trial_id": "r9-cpu-sysbench-native", "val')  # a crash mid-write
    warnings = load_run(run_dir).warnings
    assert any("samples.jsonl line" in w and "skipped" in w for w in warnings), warnings
    cli.main(["export", FIXTURE_RUN.name, "--format", "ndjson", "-o", str(home / "x.ndjson")])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert (home / "x.ndjson").read_text().count("\n") > 100  # every whole line still counts


def test_a_truncated_run_json_is_one_line_on_resume(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = home / "results" / FIXTURE_RUN.name / "run.json"
    meta.write_text(meta.read_text()[:100])
    assert "unreadable" in one_line_exit_2(["run", "--resume", FIXTURE_RUN.name], capsys, home)
