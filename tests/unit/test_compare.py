"""Run comparison: comparable or refused, regressions found (exit 3), A/A runs quiet (exit 0)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bench.cli.compare import EXIT_REGRESSION, compare_command
from bench.core.errors import BenchError
from bench.data.check_record import CheckRecord, ConfirmationRecord, write_check
from bench.data.results import RunData, RunWriter, Sample, Trial, load_run
from bench.data.run_meta import check_comparable
from bench.report.comparison import (
    TWO_RUNS,
    NotComparableError,
    compare_runs,
    comparison_html,
    comparison_text,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
TCG_RUN = FIXTURES / "20261123-201342-6f5536"
NATIVE_DOCKER_RUN = FIXTURES / "20261123-201332-333c1d"

# (workload, metric) -> (unit, higher_is_better)
METRICS: dict[tuple[str, str], tuple[str, bool]] = {
    ("cpu-sysbench", "events_per_s"): ("events/s", True),
    ("cpu-sysbench", "latency_p95_ms"): ("ms", False),
    ("startup-warm", "startup_s"): ("s", False),
    ("net-sockperf", "latency_p50_us"): ("us", False),
}


def fingerprint(host: str = "h1", accel: str = "kvm", **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "hostname": host,
        "host_kernel": "6.1.0",
        "cpu": {"model": "Test CPU", "count": 4},
        "accel": {"accel": accel, "reason": "test"},
        "rootfs_digest": "ab" * 32,
        "limits": {"vcpus": 2, "memory_mib": 2048, "cpuset": "0-1"},
        "guest_kernel": "6.1.0-cloud",
    }
    found.update(extra)
    return found


def make_run(
    root: Path,
    run_id: str,
    values: Mapping[tuple[str, str, str], Sequence[float]],
    *,
    created: float = 1_790_000_000.0,
    host: str = "h1",
    accel: str = "kvm",
    hashes: Mapping[str, str] | None = None,
    fp: Mapping[str, Any] | None = None,
) -> Path:
    """A run dir written the way the runner writes one: run.json, then per trial its samples
    and the trial line. values: (workload, metric, platform) -> one value per round. Each
    trial also gets a wild warm-up sample and a collector sample, which must never count."""
    hashes = dict(hashes or {})
    workloads = list(dict.fromkeys(w for w, _, _ in values))
    plan = {
        "run_id": run_id,
        "suite": "test",
        "platforms": sorted({p for _, _, p in values}),
        "limits": {"vcpus": 2, "memory_mib": 2048, "cpuset": "0-1"},
        "workloads": [
            {
                "name": w,
                "hash": hashes.setdefault(w, f"hash-{w}"),
                "metrics": {
                    m: {
                        "unit": METRICS[(w2, m)][0],
                        "higher_is_better": METRICS[(w2, m)][1],
                        "min_effect": None,
                    }
                    for w2, m, _ in values
                    if w2 == w
                },
            }
            for w in workloads
        ],
    }
    meta = {
        "run_id": run_id,
        "created": created,
        "plan": plan,
        "fingerprint": dict(fp) if fp is not None else fingerprint(host, accel),
    }
    writer = RunWriter.create(root / run_id, meta)
    by_trial: dict[tuple[str, str], dict[str, Sequence[float]]] = {}
    for (w, m, p), series in values.items():
        by_trial.setdefault((w, p), {})[m] = series
    for (w, p), metrics in by_trial.items():
        rounds = max(len(s) for s in metrics.values())
        sample_accel = accel if p == "libvirt" else "host"
        for r in range(rounds):
            for warm in (True, False):
                tid = f"r{r}-{w}-{p}" + ("-w0" if warm else "")
                t0 = created + r * 10 + (0 if warm else 5)
                trial = Trial(
                    tid, r, w, hashes[w], p, warm, "ok", t0, t0 + 1, f"i-{p}", sample_accel
                )
                samples = []
                for m, series in metrics.items():
                    if r >= len(series):
                        continue
                    unit, hib = METRICS[(w, m)]
                    value = series[r] * (5.0 if warm else 1.0)
                    samples.append(Sample.of(trial, m, value, unit, hib))
                samples.append(Sample.of(trial, "host.cpu_s.mean", 1e9, "s", False, "collector"))
                writer.record_trial(trial, samples, [])
    return root / run_id


def noisy(rng: np.random.Generator, centre: float, n: int = 10, cv: float = 0.01) -> list[float]:
    return [float(v) for v in rng.normal(centre, centre * cv, n)]


def two_runs(tmp_path: Path, factor: float, **kwargs: Any) -> tuple[RunData, RunData]:
    """Run a and run b of cpu-sysbench on two platforms; b's native throughput x factor."""
    rng = np.random.default_rng(7)
    a = make_run(
        tmp_path,
        "20260101-000000-aaaaaa",
        {
            ("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000),
            ("cpu-sysbench", "events_per_s", "docker"): noisy(rng, 980),
        },
    )
    b = make_run(
        tmp_path,
        "20260102-000000-bbbbbb",
        {
            ("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000 * factor),
            ("cpu-sysbench", "events_per_s", "docker"): noisy(rng, 980),
        },
        created=1_790_100_000.0,
        **kwargs,
    )
    return load_run(a), load_run(b)


# --- check_comparable --------------------------------------------------------------------


def test_identical_fingerprints_are_comparable() -> None:
    meta = {"fingerprint": fingerprint(), "plan": {"workloads": [{"name": "w", "hash": "1"}]}}
    assert check_comparable(meta, copy.deepcopy(meta)) == []


def test_every_differing_field_is_named() -> None:
    a = {
        "fingerprint": fingerprint(),
        "plan": {"workloads": [{"name": "w", "hash": "1"}, {"name": "only-a", "hash": "x"}]},
    }
    b = copy.deepcopy(a)
    b["fingerprint"]["accel"]["accel"] = "tcg"
    b["fingerprint"]["cpu"]["model"] = "Other CPU"
    b["fingerprint"]["host_kernel"] = "6.9.0"
    b["fingerprint"]["rootfs_digest"] = "cd" * 32
    b["fingerprint"]["limits"]["vcpus"] = 4
    b["plan"]["workloads"] = [{"name": "w", "hash": "2"}]  # only-a is not shared: not a diff
    found = check_comparable(a, b)
    assert found == [
        "accel kvm != tcg",
        "cpu model Test CPU != Other CPU",
        "host kernel 6.1.0 != 6.9.0",
        f"rootfs digest {'ab' * 6} != {'cd' * 6}",
        "limits vcpus 2 != 4",
        "workload w hash 1 != 2",
    ]


def test_a_run_without_vms_does_not_conflict_on_accel() -> None:
    a = {"fingerprint": fingerprint(accel="none")}
    assert check_comparable(a, {"fingerprint": fingerprint(accel="kvm")}) == []


def test_the_fixtures_differ_in_the_sysbench_definition() -> None:
    found = check_comparable(load_run(NATIVE_DOCKER_RUN).meta, load_run(TCG_RUN).meta)
    assert found == ["workload cpu-sysbench hash b08ea0d1a399fb9b != 84a1e6336fedc780"]


# --- compare_runs and the serializers ----------------------------------------------------


def test_a_a_runs_show_no_change(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 1.0)
    result = compare_runs(a, b)
    assert set(result.frame["mark"]) == {"not significant"}
    assert not result.regressed and not result.forced and result.differences == ()
    # warm-ups (x5), collector series and wall_s never reach the comparison
    assert set(result.frame["metric"]) == {"events_per_s"}
    assert list(result.frame["n_a"]) == [10, 10]


def test_a_20_percent_regression_is_worse_and_named(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 0.8)
    result = compare_runs(a, b)
    assert list(result.regressions["platform"]) == ["native"]
    assert result.regressions["change_pct"].iloc[0] == pytest.approx(20, abs=2)
    text = comparison_text(result)
    worse_line = next(line for line in text.splitlines() if line.startswith("+"))
    assert "native" in worse_line and "+19.9%" in worse_line
    assert "1 worse, 0 better, 1 not significant, 0 not comparable" in text


def test_an_improvement_is_marked_minus(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 1.25)
    result = compare_runs(a, b)
    assert not result.regressed
    assert any(line.startswith("-  cpu-sysbench") for line in comparison_text(result).splitlines())


def test_doctored_accel_is_refused_naming_it(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 1.0, accel="tcg")
    with pytest.raises(NotComparableError) as info:
        compare_runs(a, b)
    assert isinstance(info.value, BenchError)
    line = info.value.one_line()
    assert line == "runs are not comparable: accel kvm != tcg; use --force to compare anyway"


def test_force_compares_anyway_and_says_so(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 1.0, accel="tcg")
    result = compare_runs(a, b, force=True)
    assert result.forced and result.differences == ("accel kvm != tcg",)
    assert "forced: compared although the runs differ (accel kvm != tcg)" in comparison_text(result)
    assert "Forced:" in comparison_html(result)


def test_a_changed_workload_definition_is_not_comparable_even_forced(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 0.8, hashes={"cpu-sysbench": "new"})
    result = compare_runs(a, b, force=True)
    assert set(result.frame["mark"]) == {"not comparable"}
    assert not result.regressed
    assert "x cpu-sysbench/events_per_s/native: workload definition changed" in (
        comparison_text(result)
    )


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_accessible(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 0.8)
    page = comparison_html(compare_runs(a, b))
    parser = _Parsed()
    parser.feed(page)
    parser.close()
    tags = [t for t, _ in parser.tags]
    assert "caption" in tags and "script" not in tags
    assert all(attrs.get("scope") in ("col", "row") for t, attrs in parser.tags if t == "th")
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert csp[0]["content"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "http://" not in page and "https://" not in page
    assert "#D55E00" in page and ">+</span> worse" in page  # colour and word together


def test_html_escapes_what_run_files_say(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 1.0)
    evil = RunData(
        b.directory,
        {**b.meta, "run_id": "<script>x</script>"},
        b.trials,
        b.samples,
        b.events,
        b.warnings,
    )
    page = comparison_html(compare_runs(a, evil))
    assert "<script>" not in page and "&lt;script&gt;" in page


# --- the command -------------------------------------------------------------------------


def _invoke(args: list[str], tmp_path: Path) -> Any:
    return CliRunner().invoke(compare_command, args, env={"VCBENCH_RESULTS": str(tmp_path)})


def test_cli_a_a_exits_0(tmp_path: Path) -> None:
    two_runs(tmp_path, 1.0)
    result = _invoke(["20260101", "20260102"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "0 worse" in result.output


def test_cli_two_single_runs_show_within_run_evidence_but_never_exit_3(tmp_path: Path) -> None:
    a, b = two_runs(tmp_path, 0.8)
    out = tmp_path / "out" / "cmp.html"
    result = _invoke([str(a.directory), str(b.directory), "--html", str(out)], tmp_path)
    assert result.exit_code == 0, result.output  # a 20% drop, but two runs cannot tell
    assert "1 worse" in result.output and TWO_RUNS in result.output
    page = out.read_text()
    assert "worse" in page and "Within-run evidence only." in page


def test_cli_exits_3_when_run_b_own_check_confirmed_a_regression(tmp_path: Path) -> None:
    """The exit code follows the run level: B's stored check, not the two runs' repeats."""
    a, b = two_runs(tmp_path, 1.0)
    confirmed = ConfirmationRecord(
        "x", "cpu-sysbench", "events_per_s", "native", "events/s", 0.2, 0.2, 1e-6, 1e-4, 5,
        "confirmed", "five fresh runs",
    )  # fmt: skip
    write_check(b.directory, CheckRecord(b.run_id, {}, (), (confirmed,)))
    result = _invoke([str(a.directory), str(b.directory)], tmp_path)
    assert result.exit_code == EXIT_REGRESSION == 3, result.output
    assert "confirmed worse: cpu-sysbench events_per_s native" in result.output


def test_cli_not_comparable_raises_bench_error_and_force_overrides(tmp_path: Path) -> None:
    two_runs(tmp_path, 1.0, accel="tcg")
    refused = _invoke(["20260101", "20260102"], tmp_path)
    assert isinstance(refused.exception, NotComparableError)
    assert "accel" in str(refused.exception)
    forced = _invoke(["20260101", "20260102", "--force"], tmp_path)
    assert forced.exit_code == 0 and "forced:" in forced.output


def test_cli_root_prints_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main as cli

    two_runs(tmp_path, 1.0, accel="tcg")
    monkeypatch.setenv("VCBENCH_RESULTS", str(tmp_path))
    monkeypatch.setitem(cli.cli.commands, "compare", compare_command)
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", "20260101", "20260102"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "vcbench: error: runs are not comparable: accel kvm != tcg; use --force to compare anyway"
    )


def test_cli_unknown_run_is_a_bench_error(tmp_path: Path) -> None:
    two_runs(tmp_path, 1.0)
    result = _invoke(["nope", "20260102"], tmp_path)
    assert isinstance(result.exception, BenchError)


def test_fixture_runs_compare_with_force(tmp_path: Path) -> None:
    result = _invoke([str(NATIVE_DOCKER_RUN), str(TCG_RUN), "--force"], tmp_path)
    assert result.exit_code == 0, result.output
    # n=2 per side: the test cannot decide, so nothing is called worse
    assert "0 worse" in result.output and "not comparable" in result.output
    json.dumps(result.output)  # plain text, no control characters from a rich console
