"""The classic table's rule (bench.analysis.classic) and its calibration: orderings judged by
the gate as one family, agreement read off the call, TCG rows flagged, rows without data
said to be unmeasured; under A/A no row is called better or worse."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.analysis import calibration, classic, classic_calibration
from bench.core.platform_names import base_of, net_mode, sort_platforms
from bench.core.workload import load_all, load_suite
from bench.report.classic_view import classic_rows, ratio_text
from tests.support.calibration_checks import assert_false_calls_within


def _frame(factors: dict[str, float], n: int = 8, seed: int = 3) -> pd.DataFrame:
    """Every row's subject and native; factors: row key -> how much worse the subject is."""

    def quiet(rng: np.random.Generator, k: int) -> np.ndarray:  # 0.5%: "no worse" within reach
        return rng.normal(1000, 5, k)

    return classic_calibration.synthetic_frame(quiet, n, np.random.default_rng(seed), factors)


def test_agreement_reads_the_call_against_the_expected_ordering() -> None:
    assert classic.agreement("worse", "worse") == "agrees"
    assert classic.agreement("worse", "no difference") == "disagrees"
    assert classic.agreement("worse", "better") == "disagrees"
    assert classic.agreement("no worse", "no worse") == "agrees"
    assert classic.agreement("worse", "no worse") == "disagrees"
    assert classic.agreement("no worse", "better") == "agrees"
    assert classic.agreement("no worse", "worse") == "disagrees"
    assert classic.agreement("worse", "inconclusive") == "inconclusive"


def test_the_papers_orderings_agree_and_a_reversed_one_disagrees() -> None:
    worse = {r.key: 1.3 for r in classic.ROWS if r.expect == "worse"}
    results = {r.row.key: r for r in classic.judge(_frame(worse), resamples=300)}
    assert all(r.agreement == "agrees" for r in results.values()), [
        (k, r.call, r.reason) for k, r in results.items() if r.agreement != "agrees"
    ]
    nat = results["redis-p99-nat"]
    assert nat.n == nat.n_ref == 8
    assert nat.ratio_low <= nat.ratio <= nat.ratio_high
    assert nat.ratio == pytest.approx(1.3, rel=0.05)
    # docker-hostnet as slow as NAT: "no worse" no longer holds
    reversed_ = {**worse, "redis-p99-hostnet": 1.3}
    results = {r.row.key: r for r in classic.judge(_frame(reversed_), resamples=300)}
    assert results["redis-p99-hostnet"].agreement == "disagrees"
    assert classic.SUBJECT not in results["redis-p99-hostnet"].reason  # the family's label


def test_missing_platform_is_not_measured_and_tcg_marks_the_vm_rows() -> None:
    frame = _frame({})
    frame = frame[frame["platform"] != "docker-nat"]
    results = {r.row.key: r for r in classic.judge(frame, tcg=True, resamples=200)}
    assert results["redis-p99-nat"].agreement == "not measured"
    assert results["mysql-p"].agreement == "not measured"
    assert "emulation" in results["hpl-kvm"].note
    assert results["hpl-docker"].note == ""
    shown = {row["anchor"]: row for row in classic_rows(list(results.values()))}
    assert shown["classic-redis-p99-nat"]["badge"] == "missing"
    assert shown["classic-hpl-kvm"]["interval"].startswith("[")


def test_too_few_repeats_are_inconclusive_never_agreement() -> None:
    worse = {r.key: 1.3 for r in classic.ROWS if r.expect == "worse"}
    results = classic.judge(_frame(worse, n=3), resamples=200)
    assert {r.agreement for r in results} == {"inconclusive"}
    assert "docker-nat n=3" in next(r.reason for r in results if r.row.key == "redis-p99-nat")


def test_rows_name_workloads_metrics_and_platforms_that_exist() -> None:
    workloads = load_all()
    suite = load_suite("felter")
    for row in classic.ROWS:
        assert row.workload in suite.workloads
        assert row.metric in workloads[row.workload].metrics
        assert base_of(row.subject) in ("docker", "libvirt")
    assert net_mode("docker-nat") == "nat" and net_mode("docker-hostnet") == "host"
    assert sort_platforms(["docker-hostnet", "native", "docker-nat", "docker"]) == [
        "native",
        "docker",
        "docker-nat",
        "docker-hostnet",
    ]


def test_classic_table_is_calibrated_both_ways() -> None:
    """A/A: no row called better or worse; every subject worse by exactly the minimum effect:
    no row answered no worse. Each kind's cells pooled within the claims' limit."""
    rates = classic_calibration.calibrate(sims=8)
    for kind in ("false", "false no worse"):
        cells = [(kind, r.hits, r.sims, r) for r in rates if r.kind == kind]
        assert len(cells) == len(calibration.DISTRIBUTIONS) * len(calibration.NS)
        assert_false_calls_within(cells, calibration.FALSE_LIMIT)
    # and it can see: with a clear effect on the quiet distributions some runs agree fully
    power = [r for r in rates if r.kind == "power" and r.distribution == "bimodal"]
    assert power and power[0].hits > 0


def test_no_worse_rows_agree_with_enough_repeats_of_quiet_data() -> None:
    """The power of "no worse" at the margin of 3%: with a 0.5% spread every such row agrees
    at n=8; with 8% noise none can (worse by 3% is not ruled out), and none disagrees."""
    quiet = {r.row.key: r for r in classic.judge(_frame({}), resamples=200)}
    expected = [r for r in quiet.values() if r.row.expect == "no worse"]
    assert expected and all(r.call == "no worse" for r in expected), [
        (r.row.key, r.reason) for r in expected if r.call != "no worse"
    ]
    rng = np.random.default_rng(5)
    noisy = classic_calibration.synthetic_frame(calibration.DISTRIBUTIONS["noisy 8%"], 8, rng)
    for r in classic.judge(noisy, resamples=200):
        assert r.agreement == "inconclusive" and "not ruled out" in r.reason, r


def test_network_profiles_are_platform_classes_of_their_own() -> None:
    from bench.platforms.registry import platform_class, platform_names

    assert {"docker-nat", "docker-hostnet", "podman-hostnet"} <= set(platform_names())
    assert platform_class("docker-nat").network_mode == "nat"  # type: ignore[attr-defined]
    assert platform_class("docker-hostnet").network_mode == "host"  # type: ignore[attr-defined]
    assert platform_class("podman-hostnet").network_mode == "host"  # type: ignore[attr-defined]
    assert platform_class("docker").network_mode == "bridge"  # type: ignore[attr-defined]
    assert platform_class("gvisor").network_mode == "bridge"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="unknown platform"):
        platform_class("podman-nat")


def test_a_host_side_client_reaches_a_nat_published_port_at_its_host_number() -> None:
    from bench.platforms.docker import _host_ports
    from bench.run.trials import host_values

    attrs = {
        "NetworkSettings": {
            "Ports": {
                "16379/tcp": [{"HostIp": "172.22.0.1", "HostPort": "49153"}],
                "18080/tcp": None,  # exposed, not published
                "53/udp": [{"HostIp": "172.22.0.1", "HostPort": "49154"}],
            }
        }
    }
    assert _host_ports(attrs) == {16379: 49153}

    nat = SimpleNamespace(published={16379: 49153})
    values = {"port": 16379, "address": "172.22.0.1"}
    assert host_values(values, nat)["port"] == 49153  # type: ignore[arg-type]
    assert host_values({"port": 13306}, nat)["port"] == 13306  # type: ignore[arg-type]


def test_a_ratio_keeps_its_three_digits() -> None:
    assert [ratio_text(x) for x in (1.0025, 0.03, 8.55, 123.4)] == ["1.00", "0.0300", "8.55", "123"]
    assert ratio_text(math.nan) == "-"
