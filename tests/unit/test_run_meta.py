"""run.json parsed once (RunMeta), and the accel a run used on every figure, caveat, banner
and export: `--accel tcg` on a host whose detection says KVM is TCG everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.analysis.claims import assess
from bench.data.results import (
    RUN_FILE,
    SCHEMA_VERSION,
    ResultsError,
    RunWriter,
    Sample,
    Trial,
    load_run,
)
from bench.data.run_meta import check_comparable, counted_samples, parse_meta
from bench.host.accel import AccelResult
from bench.report import export
from bench.report.render import render_run
from bench.report.terminal import print_summary
from bench.run import fingerprint

KVM_HOST = AccelResult("kvm", "a guest booted under KVM in 1.20 s", "boot-1", kvm_boot_s=1.2)


@pytest.fixture
def detection_says_kvm(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Detection as on a KVM host; the list records each probe asked for."""
    probes: list[str] = []

    def detect(*, force: bool = False) -> AccelResult:
        probes.append("detect")
        return KVM_HOST

    monkeypatch.setattr(fingerprint, "detect", detect)
    monkeypatch.setattr(fingerprint, "cached", lambda: KVM_HOST)
    return probes


def test_forced_tcg_is_recorded_as_tcg_where_detection_says_kvm(
    detection_says_kvm: list[str],
) -> None:
    found = fingerprint.accel("tcg")
    assert found["accel"] == "tcg" and found["asked"] == "tcg"
    assert found["detected"] == "kvm"  # what the host could do, kept beside it
    assert "--accel tcg" in found["reason"]
    assert detection_says_kvm == []  # no boot probe for a forced TCG
    auto = fingerprint.accel("auto")
    assert auto["accel"] == "kvm" and detection_says_kvm == ["detect"]


def _startup_trials(accel: str) -> tuple[list[Trial], list[Sample]]:
    trials, samples = [], []
    for i in range(6):
        for workload in ("startup-warm", "startup-cold"):
            for platform, seconds in (("docker", 0.3), ("libvirt", 4.0)):
                value = seconds * (1 + 0.01 * i)
                trial = Trial(
                    f"r{i}-{workload}-{platform}", i, workload, "h", platform, False, "ok",
                    0.0, 1.0, "inst", accel if platform == "libvirt" else "",
                )  # fmt: skip
                trials.append(trial)
                samples.append(Sample.of(trial, "startup_s", value, "s", False))
    return trials, samples


def _write_run(tmp_path: Path, fingerprint_accel: dict[str, Any], asked: str) -> Path:
    directory = tmp_path / "run-tcg"
    meta = {
        "run_id": "run-tcg",
        "created": 1.0,
        "plan": {"suite": "tiny", "platforms": ["docker", "libvirt"], "accel": asked},
        "fingerprint": {"hostname": "h", "accel": fingerprint_accel},
    }
    writer = RunWriter.create(directory, meta)
    trials, samples = _startup_trials("tcg")
    for trial in trials:
        writer.record_trial(trial, [s for s in samples if s.trial_id == trial.trial_id], [])
    return directory


def _says_tcg_everywhere(directory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = load_run(directory)
    assert run.run_meta.accel == "tcg" and run.run_meta.tcg
    c3 = next(v for v in assess(run) if v.id == "C3")
    assert any("accel=tcg" in c for c in c3.caveats), c3.caveats
    html = render_run(run, series={}, links_base="..", files=frozenset())
    assert "TCG" in html and "VM acceleration" in html
    assert "<td>tcg</td>" in html.replace(" ", "") or ">tcg<" in html
    markdown = export.to_markdown(run)
    assert "accel **tcg**" in markdown and export.TCG_CAVEAT in markdown
    assert "kvm" not in markdown.split("\n")[2]
    assert {row.split(",")[-4] for row in export.to_csv(run).splitlines()[1:]} <= {"tcg", ""}
    print_summary(directory, quiet=True)
    assert "accel=tcg" in capsys.readouterr().err


def test_a_forced_tcg_run_on_a_kvm_host_says_tcg_everywhere(
    tmp_path: Path, detection_says_kvm: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _write_run(tmp_path, fingerprint.accel("tcg"), "tcg")
    _says_tcg_everywhere(directory, capsys)


def test_an_older_run_json_that_recorded_detection_still_reads_tcg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schema 1 recorded what detection found, whatever --accel said: the plan's forced
    accel wins over it when such a run is read."""
    directory = _write_run(tmp_path, {"accel": "kvm", "reason": "booted under KVM"}, "tcg")
    meta = json.loads((directory / RUN_FILE).read_text())
    (directory / RUN_FILE).write_text(json.dumps({**meta, "schema_version": 1}))
    run = load_run(directory)
    assert run.run_meta.schema_version == 1
    assert run.run_meta.accel_reason == "asked with --accel tcg"
    _says_tcg_everywhere(directory, capsys)


def test_a_newer_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    directory = _write_run(tmp_path, {"accel": "tcg"}, "tcg")
    meta = json.loads((directory / RUN_FILE).read_text())
    assert meta["schema_version"] == SCHEMA_VERSION
    (directory / RUN_FILE).write_text(json.dumps({**meta, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ResultsError, match="newer than this vcbench reads") as caught:
        load_run(directory)
    assert "upgrade vcbench" in caught.value.hint


def test_run_meta_types_the_plan_limits_and_policy() -> None:
    meta = {
        "schema_version": 2,
        "run_id": "r",
        "created": 5,
        "policy": {"alpha": 0.01, "min_effect": 0.03, "min_repeats": 5},
        "plan": {
            "suite": "s",
            "platforms": ["native", "docker"],
            "accel": "auto",
            "limits": {"vcpus": 2, "memory_mib": 1024, "cpuset": "0-1"},
            "workloads": [{"name": "w", "metrics": {"ops": {"min_effect": 0.1}}}],
        },
        "fingerprint": {"hostname": "box", "accel": {"accel": "none", "reason": "no VM"}},
    }
    found = parse_meta(meta)
    assert (found.run_id, found.host, found.suite, found.created) == ("r", "box", "s", 5.0)
    assert found.platforms == ("native", "docker") and found.accel == "none"
    assert found.limits["vcpus"] == 2 and found.min_effects == {("w", "ops"): 0.1}
    assert found.policy["alpha"] == 0.01 and found.policy["min_repeats"] == 5.0
    assert found.vm_accel(["native", "libvirt"]) == "none"


def test_runs_that_used_different_accels_do_not_compare() -> None:
    forced = {"plan": {"accel": "tcg"}, "fingerprint": {"accel": {"accel": "kvm"}}}
    detected = {"plan": {"accel": "auto"}, "fingerprint": {"accel": {"accel": "kvm"}}}
    assert check_comparable(forced, detected) == ["accel tcg != kvm"]
    no_vm = {"plan": {"accel": "auto"}, "fingerprint": {"accel": {"accel": "none"}}}
    assert check_comparable(forced, no_vm) == []


def test_one_rule_says_which_samples_count(tmp_path: Path) -> None:
    directory = _write_run(tmp_path, {"accel": "tcg"}, "tcg")
    run = load_run(directory)
    base = run.samples[0]
    extra = (
        Sample(**{**vars(base), "warmup": True}),
        Sample(**{**vars(base), "status": "failed"}),
        Sample(**{**vars(base), "metric": "wall_s"}),
        Sample(**{**vars(base), "origin": "collector", "metric": "cpu_pct"}),
    )
    mixed = type(run)(run.directory, run.meta, run.trials, (*run.samples, *extra), (), ())
    assert counted_samples(mixed) == list(run.samples)
