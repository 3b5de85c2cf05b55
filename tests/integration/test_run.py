"""`vcbench run` end to end on the real daemons: the tiny suite on all three platforms, and
a run interrupted by SIGINT or SIGTERM that keeps every finished trial, leaves nothing
behind and completes with --resume (SIGKILL, gc and resume: tests/faults/test_sigkill.py)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.data.results import load_run
from tests.integration.platform_support import built_images, leftovers_of
from tests.support.runs import only_run, start_vcbench, vcbench, wait_for_trials

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(
    tmp_path_factory: pytest.TempPathFactory, docker_client: Any, libvirt_conn: Any
) -> tuple[subprocess.CompletedProcess[str], Path]:
    built_images()
    root = tmp_path_factory.mktemp("results")
    reports = tmp_path_factory.mktemp("reports")
    done = vcbench(
        "run",
        "--suite",
        "tiny",
        "--results",
        str(root),
        "--reports",
        str(reports),
        "--quiet",
        "--seed",
        "1",
    )
    return done, root


def test_the_tiny_suite_measures_all_three_platforms(
    tiny_run: tuple[subprocess.CompletedProcess[str], Path], docker_client: Any, libvirt_conn: Any
) -> None:
    done, root = tiny_run
    assert done.returncode == 0, done.stderr[-3000:]
    directory = only_run(root)
    assert done.stdout.strip().splitlines()[-1] == str(directory)
    report = Path(done.stderr.split("report: ", 1)[1].split()[0])
    assert report.name == "index.html" and directory.name in report.read_text()
    assert (report.parent.parent / "index.html").exists()  # the history index beside it
    run = load_run(directory)
    assert not run.warnings
    assert {t.status for t in run.trials} == {"ok"}, [t.error for t in run.trials]
    measured = {(s.workload, s.platform) for s in run.samples if s.origin == "workload"}
    for workload in ("cpu-sysbench", "net-iperf3", "startup-warm", "idle-footprint"):
        for platform in ("native", "docker", "libvirt"):
            assert (workload, platform) in measured
    values = {(s.workload, s.metric, s.platform): s.value for s in run.samples if s.round == 0}
    assert values[("cpu-sysbench", "events_per_s", "native")] > 0
    assert values[("net-iperf3", "gbit_per_s", "docker")] > 0
    assert (
        values[("startup-warm", "startup_s", "libvirt")]
        > values[("startup-warm", "startup_s", "native")]
    )
    assert "guest_kernel_s" not in {m for (w, m, p) in values if p != "libvirt"}
    assert values[("idle-footprint", "memory_mib", "libvirt")] > 0


def test_a_run_directory_traces_every_figure_to_its_output(
    tiny_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    directory = only_run(tiny_run[1])
    run = load_run(directory)
    meta = run.meta
    fp = meta["fingerprint"]
    for key in (
        "host_kernel",
        "cpu",
        "memory_mib",
        "cgroups",
        "rootfs_digest",
        "guest_kernel",
        "limits",
        "vcbench",
        "git",
        "hostname",
        "docker",
        "libvirt",
        "accel",
    ):
        assert key in fp, key
    assert fp["accel"]["accel"] in ("kvm", "tcg") and fp["accel"]["reason"]
    assert {w["name"] for w in meta["plan"]["workloads"]} >= {"cpu-sysbench", "net-iperf3"}
    for trial in run.trials:
        assert trial.raw and all((directory / raw).exists() for raw in trial.raw), trial
    cpu = next(t for t in run.trials if t.workload == "cpu-sysbench" and t.platform == "libvirt")
    assert "events per second" in (directory / f"raw/{cpu.trial_id}.stdout").read_text()
    assert cpu.accel == fp["accel"]["accel"]
    assert any(
        p.suffix == ".log" and "VCBENCH-READY" in p.read_text(errors="replace")
        for p in (directory / "logs").iterdir()
    )
    series = (directory / "timeseries.jsonl").read_text().splitlines()
    sources = {json.loads(line)["source"] for line in series}
    assert {"host"} < sources, sources


def test_nothing_of_the_run_is_left(
    tiny_run: tuple[subprocess.CompletedProcess[str], Path], docker_client: Any, libvirt_conn: Any
) -> None:
    run_id = only_run(tiny_run[1]).name
    assert leftovers_of(run_id, docker_client, libvirt_conn) == []


def _start(root: Path) -> subprocess.Popen[str]:
    return start_vcbench(
        "run",
        "--workload",
        "cpu-sysbench",
        "--platforms",
        "native,docker",
        "--repeats",
        "4",
        "--warmups",
        "0",
        "--duration",
        "1",
        "--results",
        str(root),
        "--quiet",
        "--seed",
        "3",
    )


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_keeps_its_trials_and_resume_completes_it(
    tmp_path: Path, docker_client: Any, libvirt_conn: Any, signum: int, code: int
) -> None:
    built_images()
    root = tmp_path / "results"
    child = _start(root)
    wait_for_trials(root, child, 2)
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    assert child.returncode == code, err
    directory = only_run(root)
    before = load_run(directory)
    assert len(before.done()) >= 2 and not before.warnings
    assert "--resume" in err
    assert leftovers_of(directory.name, docker_client, libvirt_conn) == []
    resumed = vcbench(
        "run",
        "--resume",
        directory.name[:15],
        "--results",
        str(root),
        "--reports",
        str(tmp_path / "reports"),
        "--quiet",
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = load_run(directory)
    ids = [t.trial_id for t in after.trials]
    assert len(ids) == len(set(ids)) == 2 * 4, ids  # nothing repeated, nothing missing
    assert before.done() <= after.done()
    assert {e.kind for e in after.events} >= {"resumed", "finished"}
    assert leftovers_of(directory.name, docker_client, libvirt_conn) == []


def test_a_torn_last_sample_line_is_skipped_and_resume_repeats_that_trial(
    tmp_path: Path, docker_client: Any, libvirt_conn: Any
) -> None:
    """A crash while the last trial's samples were being written: the torn line is skipped
    with a warning, and --resume runs that trial again, appending whole lines after it."""
    built_images()
    root = tmp_path / "results"
    done = vcbench(
        "run", "--workload", "cpu-sysbench", "--platforms", "native", "--repeats", "2",
        "--warmups", "0", "--duration", "1", "--results", str(root), "--reports",
        str(tmp_path / "reports"), "--quiet", "--no-compare",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    directory = only_run(root)
    trials = (directory / "trials.jsonl").read_text().splitlines(keepends=True)
    last = json.loads(trials[-1])["trial_id"]
    # What a crash mid-write leaves: the last trial's samples cut inside a line, and no
    # commit record for that trial.
    (directory / "trials.jsonl").write_text("".join(trials[:-1]))
    samples = (directory / "samples.jsonl").read_text()
    (directory / "samples.jsonl").write_text(samples[: samples.rindex("\n", 0, -1) + 20])
    torn = load_run(directory)
    assert last not in torn.done()
    assert any("samples.jsonl line" in w for w in torn.warnings)
    resumed = vcbench(
        "run", "--resume", directory.name, "--results", str(root), "--reports",
        str(tmp_path / "reports"), "--quiet", "--no-compare",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    after = load_run(directory)
    assert not after.warnings  # the torn tail was cut off before appending
    ids = [t.trial_id for t in after.trials]
    assert sorted(ids) == sorted({*ids}) and last in ids and len(ids) == 2
    assert [s for s in after.samples if s.trial_id == last and s.metric == "events_per_s"]
    assert leftovers_of(directory.name, docker_client, libvirt_conn) == []
