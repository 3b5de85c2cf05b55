"""bench.core.parsers on real tool outputs (tests/unit/fixtures/parsers/) and on made-up ones.

The fixtures were captured on Debian 12 with its packages: sysbench 1.0.20, fio 3.33,
iperf3 3.12, sockperf 3.7, all on 127.0.0.1. The expected numbers below were read off the
files by hand, so a parser that drifts from the real format fails here first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.core.errors import BenchError
from bench.core.parsers import PARSERS, ParseError, Parser, parse

FIXTURES = Path(__file__).parent / "fixtures" / "parsers"
MiB = 2**20


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def fio_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture(name))
    return data


def expect_error(parser: str, stdout: str, *fragments: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(parser, stdout)
    message = caught.value.one_line()
    assert message.startswith(f"{parser}: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


# Which parser reads which fixture, by file-name prefix.
FIXTURE_PARSERS = {
    "sysbench-cpu": "sysbench-cpu",
    "sysbench-memory": "sysbench-memory",
    "fio-": "fio-json",
    "iperf3-": "iperf3-json",
    "sockperf-": "sockperf",
}
ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir())


def parser_for(fixture_name: str) -> str:
    return next(p for prefix, p in FIXTURE_PARSERS.items() if fixture_name.startswith(prefix))


# --- the registry ---------------------------------------------------------------------------


def test_registry_names_match_and_metrics_are_unique() -> None:
    assert set(PARSERS) == {
        "sysbench-cpu",
        "sysbench-memory",
        "fio-json",
        "iperf3-json",
        "sockperf",
        "time-s",
        # the application workloads' (tests/unit/test_app_parsers.py)
        "sysbench-oltp",
        "redis-benchmark-csv",
        "wrk",
        "hpcc",
    }
    for name, parser in PARSERS.items():
        assert isinstance(parser, Parser)
        assert parser.name == name
        assert len(set(parser.metrics)) == len(parser.metrics)


def test_unknown_parser_is_a_bench_error_listing_the_known_ones() -> None:
    with pytest.raises(BenchError) as caught:
        parse("no-such-parser", "1.0\n")
    assert not isinstance(caught.value, ParseError)
    assert "no-such-parser" in caught.value.message
    for name in PARSERS:
        assert name in caught.value.message


def test_every_fixture_has_a_parser() -> None:
    assert ALL_FIXTURES
    for name in ALL_FIXTURES:
        parser_for(name)


# The fixtures a tool wrote when it failed: each must be refused, never read as figures.
REFUSED_FIXTURES = frozenset(
    {
        "fio-error-enospc.txt",
        "fio-randread-4k-two-jobs.json",  # two jobs: no single figure to report
        "iperf3-error-refused.json",
        "sockperf-tcp-refused.txt",
        "sockperf-udp-no-server.txt",
    }
)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_parses_to_declared_finite_metrics_or_parse_error(name: str) -> None:
    parser = parser_for(name)
    if name in REFUSED_FIXTURES:
        with pytest.raises(ParseError):
            parse(parser, fixture(name))
        return
    found = parse(parser, fixture(name))
    assert found
    assert set(found) <= set(PARSERS[parser].metrics)
    assert all(math.isfinite(v) for v in found.values())


def test_parser_callable_is_the_same_as_parse() -> None:
    stdout = fixture("sysbench-cpu.txt")
    assert PARSERS["sysbench-cpu"].parse(stdout) == parse("sysbench-cpu", stdout)


# --- sysbench -------------------------------------------------------------------------------


def test_sysbench_cpu_golden() -> None:
    assert parse("sysbench-cpu", fixture("sysbench-cpu.txt")) == {
        "events_per_s": 8770.49,
        "latency_avg_ms": 0.23,
        "latency_p95_ms": 0.27,
    }


def test_sysbench_cpu_without_percentile_omits_p95() -> None:
    # --percentile=0 prints "percentile stats: disabled" instead of the 95th line.
    assert parse("sysbench-cpu", fixture("sysbench-cpu-percentile-off.txt")) == {
        "events_per_s": 1758.04,
        "latency_avg_ms": 0.57,
    }


def test_sysbench_cpu_other_percentile_is_not_taken_for_p95() -> None:
    stdout = fixture("sysbench-cpu.txt").replace("95th percentile", "99th percentile")
    assert "latency_p95_ms" not in parse("sysbench-cpu", stdout)


def test_sysbench_memory_golden() -> None:
    assert parse("sysbench-memory", fixture("sysbench-memory.txt")) == {
        "mib_per_s": 6827.96,
        "ops_per_s": 6991830.69,
    }
    assert parse("sysbench-memory", fixture("sysbench-memory-read-2t.txt")) == {
        "mib_per_s": 15594.15,
        "ops_per_s": 15968404.70,
    }


def test_sysbench_through_a_tty_crlf() -> None:
    stdout = fixture("sysbench-cpu.txt").replace("\n", "\r\n")
    assert parse("sysbench-cpu", stdout)["events_per_s"] == 8770.49


def test_sysbench_cpu_missing_headline() -> None:
    expect_error("sysbench-cpu", "", "no 'events per second' line in the output")
    truncated = fixture("sysbench-cpu.txt").split("CPU speed:")[0]
    expect_error("sysbench-cpu", truncated, "'events per second'")


def test_sysbench_cpu_cut_before_latency() -> None:
    truncated = fixture("sysbench-cpu.txt").split("Latency (ms):")[0]
    expect_error("sysbench-cpu", truncated, "'avg:'")


def test_sysbench_two_outputs_glued_are_refused() -> None:
    twice = fixture("sysbench-cpu.txt") * 2
    expect_error("sysbench-cpu", twice, "2 'events per second' lines")


def test_sysbench_memory_fed_cpu_output() -> None:
    expect_error("sysbench-memory", fixture("sysbench-cpu.txt"), "'MiB transferred'")


def test_sysbench_memory_missing_operations() -> None:
    stdout = fixture("sysbench-memory.txt").replace("Total operations", "Total ops")
    expect_error("sysbench-memory", stdout, "'Total operations'")


def test_sysbench_overflowing_number_is_not_finite() -> None:
    stdout = fixture("sysbench-cpu.txt").replace("8770.49", "1e999")
    expect_error("sysbench-cpu", stdout, "events_per_s not a finite number")


# --- fio ------------------------------------------------------------------------------------

FIO_GOLDEN = {
    # file: (iops, bw_bytes, clat mean ns, clat p50 ns, clat p99 ns), as in the JSON
    "fio-randread-4k.json": (13071.928072, 53542617, 75953.630034, 61696, 342016),
    "fio-randwrite-4k.json": (13240.759241, 54234149, 74862.410668, 70144, 136192),
    "fio-seqread-1m.json": (826.347305, 866487952, 1207318.666667, 1187840, 1548288),
    "fio-randread-4k-group.json": (23270.729271, 95316907, 85483.748175, 77312, 158720),
}


@pytest.mark.parametrize("name", sorted(FIO_GOLDEN))
def test_fio_single_direction_golden(name: str) -> None:
    iops, bw_bytes, mean_ns, p50_ns, p99_ns = FIO_GOLDEN[name]
    found = parse("fio-json", fixture(name))
    assert found == pytest.approx(
        {
            "iops": iops,
            "bw_mib_s": bw_bytes / MiB,
            "lat_mean_us": mean_ns / 1000,
            "lat_p50_us": p50_ns / 1000,
            "lat_p99_us": p99_ns / 1000,
        }
    )


def test_fio_bandwidth_agrees_with_the_kib_field() -> None:
    # bw (KiB/s, whole) and bw_bytes (B/s) are the same figure at two resolutions.
    job = fio_fixture("fio-randread-4k.json")["jobs"][0]
    found = parse("fio-json", fixture("fio-randread-4k.json"))
    assert found["bw_mib_s"] == pytest.approx(job["read"]["bw"] / 1024, abs=1 / 1024)


def test_fio_falls_back_to_kib_bandwidth() -> None:
    data = fio_fixture("fio-randread-4k.json")
    del data["jobs"][0]["read"]["bw_bytes"]
    found = parse("fio-json", json.dumps(data))
    assert found["bw_mib_s"] == 52287 / 1024


def test_fio_both_directions_are_prefixed() -> None:
    found = parse("fio-json", fixture("fio-randrw-4k.json"))
    assert found == pytest.approx(
        {
            "read_iops": 8068.931069,
            "read_bw_mib_s": 33050341 / MiB,
            "read_lat_mean_us": 85.822733069,
            "read_lat_p50_us": 81.408,
            "read_lat_p99_us": 158.720,
            "write_iops": 3493.506494,
            "write_bw_mib_s": 14309402 / MiB,
            "write_lat_mean_us": 85.413973692,
            "write_lat_p50_us": 81.408,
            "write_lat_p99_us": 142.336,
        }
    )


def test_fio_warning_lines_before_the_json() -> None:
    stdout = "fio: some warning\nfio: {braces} in a warning\n" + fixture("fio-randread-4k.json")
    assert parse("fio-json", stdout) == parse("fio-json", fixture("fio-randread-4k.json"))


def test_fio_text_after_the_json_is_ignored() -> None:
    stdout = fixture("fio-randwrite-4k.json") + "\nfio: trailing note\n"
    assert parse("fio-json", stdout)["iops"] == 13240.759241


def test_fio_job_error_from_the_real_run() -> None:
    # Writing to /dev/full: fio prints "fio: pid=..., err=28/..." and then the JSON.
    stdout = fixture("fio-error-enospc.txt")
    assert stdout.startswith("fio: pid=")
    expect_error("fio-json", stdout, "error 28", "No space left on device")


def test_fio_two_jobs_are_refused() -> None:
    expect_error("fio-json", fixture("fio-randread-4k-two-jobs.json"), "2 jobs", "group_reporting")


def test_fio_no_bytes_moved() -> None:
    data = fio_fixture("fio-randread-4k.json")
    data["jobs"][0]["read"]["io_bytes"] = 0
    expect_error("fio-json", json.dumps(data), "moved no bytes")


def test_fio_without_percentiles_keeps_the_rest() -> None:
    data = fio_fixture("fio-randread-4k.json")
    del data["jobs"][0]["read"]["clat_ns"]["percentile"]
    found = parse("fio-json", json.dumps(data))
    assert set(found) == {"iops", "bw_mib_s", "lat_mean_us"}


def test_fio_truncated_json() -> None:
    text = fixture("fio-randread-4k.json")
    expect_error("fio-json", text[: len(text) // 2], "truncated or malformed JSON")


def test_fio_nan_in_the_json() -> None:
    data = fio_fixture("fio-randread-4k.json")
    data["jobs"][0]["read"]["iops"] = float("nan")
    expect_error("fio-json", json.dumps(data), "iops is not a finite number")


def test_fio_wrong_types() -> None:
    data = fio_fixture("fio-randread-4k.json")
    data["jobs"][0]["read"]["iops"] = "13071"
    expect_error("fio-json", json.dumps(data), "iops is not a number")
    data["jobs"][0]["read"]["iops"] = True
    expect_error("fio-json", json.dumps(data), "iops is not a number")
    expect_error("fio-json", json.dumps({"jobs": {}}), "no job")
    expect_error("fio-json", json.dumps({"jobs": [{"read": {}}]}), "no error in the JSON")


def test_fio_json_of_another_tool() -> None:
    expect_error("fio-json", fixture("iperf3-tcp.json"), "no 'jobs'")


# --- iperf3 ---------------------------------------------------------------------------------


def test_iperf3_tcp_golden() -> None:
    assert parse("iperf3-json", fixture("iperf3-tcp.json")) == pytest.approx(
        {
            "gbit_per_s": 13562699972.518276 / 1e9,
            "sender_gbit_per_s": 13619013952.037308 / 1e9,
            "retransmits": 0.0,
        }
    )


def test_iperf3_reverse_golden() -> None:
    assert parse("iperf3-json", fixture("iperf3-tcp-reverse.json")) == pytest.approx(
        {
            "gbit_per_s": 25805127654.78739 / 1e9,
            "sender_gbit_per_s": 25771330946.132248 / 1e9,
            "retransmits": 12.0,
        }
    )


def test_iperf3_udp_has_no_retransmits() -> None:
    assert parse("iperf3-json", fixture("iperf3-udp.json")) == pytest.approx(
        {
            "gbit_per_s": 100114880.31384437 / 1e9,
            "sender_gbit_per_s": 100124990.50132981 / 1e9,
        }
    )


def test_iperf3_error_json() -> None:
    # The real refused connection: iperf3 -J exits 0 and says so only in "error".
    expect_error(
        "iperf3-json",
        fixture("iperf3-error-refused.json"),
        "iperf3 reported: unable to connect to server: Connection refused",
    )


def test_iperf3_error_without_end() -> None:
    stdout = json.dumps({"error": "interrupt -\nthe server has terminated"})
    expect_error("iperf3-json", stdout, "interrupt - the server has terminated")


def test_iperf3_truncated_json() -> None:
    text = fixture("iperf3-tcp.json")
    expect_error("iperf3-json", text[:-30], "truncated or malformed JSON")


def test_iperf3_missing_sum() -> None:
    data = json.loads(fixture("iperf3-tcp.json"))
    del data["end"]["sum_received"]
    expect_error("iperf3-json", json.dumps(data), "no end.sum_received in the JSON")


# --- sockperf -------------------------------------------------------------------------------


def sockperf_expected(avg: float, p50: float, p99: float, p999: float, n: int) -> dict[str, float]:
    halves = {"avg": avg, "p50": p50, "p99": p99, "p999": p999}
    return {
        **{f"latency_{k}_us": v for k, v in halves.items()},
        **{f"rtt_{k}_us": 2 * v for k, v in halves.items()},
        "messages": float(n),
    }


def test_sockperf_tcp_golden() -> None:
    found = parse("sockperf", fixture("sockperf-tcp.txt"))
    assert found == pytest.approx(sockperf_expected(42.739, 41.196, 71.711, 143.288, 6436))


def test_sockperf_udp_golden() -> None:
    found = parse("sockperf", fixture("sockperf-udp.txt"))
    assert found == pytest.approx(sockperf_expected(8.373, 7.896, 24.090, 75.289, 32810))


def test_sockperf_full_rtt_golden() -> None:
    # --full-rtt prints "avg-rtt" and whole round trips; latency_* is still half of them.
    found = parse("sockperf", fixture("sockperf-tcp-full-rtt.txt"))
    expected = sockperf_expected(68.551 / 2, 69.954 / 2, 119.267 / 2, 318.703 / 2, 8025)
    assert found == pytest.approx(expected)
    assert found["rtt_p99_us"] == pytest.approx(119.267)


def test_sockperf_refused_connection() -> None:
    expect_error(
        "sockperf",
        fixture("sockperf-tcp-refused.txt"),
        "client error: Can`t connect socket (errno=111 Connection refused)",
    )


def test_sockperf_no_server() -> None:
    expect_error("sockperf", fixture("sockperf-udp-no-server.txt"), "no messages came back")


def test_sockperf_without_colour_codes() -> None:
    plain = fixture("sockperf-tcp.txt").replace("\x1b[2;35m", "").replace("\x1b[0m", "")
    assert parse("sockperf", plain) == parse("sockperf", fixture("sockperf-tcp.txt"))


def test_sockperf_two_servers_are_refused() -> None:
    expect_error("sockperf", fixture("sockperf-tcp.txt") * 2, "2 'avg-latency' or 'avg-rtt'")


def test_sockperf_missing_percentiles_keeps_the_average() -> None:
    stdout = "\n".join(
        line for line in fixture("sockperf-tcp.txt").splitlines() if "percentile" not in line
    )
    found = parse("sockperf", stdout)
    assert found == pytest.approx({"latency_avg_us": 42.739, "rtt_avg_us": 85.478})


# --- time-s ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "seconds"),
    [
        ("1.25\n", 1.25),
        ("starting\nsome log line 3.0 s\n  0.5  \n\n\n", 0.5),
        ("12", 12.0),
        ("1e-3\n", 0.001),
    ],
)
def test_time_s(stdout: str, seconds: float) -> None:
    assert parse("time-s", stdout) == {"seconds": seconds}


@pytest.mark.parametrize(
    ("stdout", "fragment"),
    [
        ("", "empty output"),
        ("\n \n", "empty output"),
        ("took 1.5 s\n", "not a number of seconds"),
        ("nan\n", "not a number"),
        ("inf\n", "not a number"),
        ("1_000\n", "not a number"),
        ("-1.5\n", "negative"),
    ],
)
def test_time_s_errors(stdout: str, fragment: str) -> None:
    expect_error("time-s", stdout, fragment)


# --- anything else is a ParseError ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize(
    "stdout",
    ["", "\n\n", "garbage", "{", "{}", "[1, 2]", '{"jobs": [', "null", "\x1b[0m", "\x00\xff"],
)
def test_junk_is_a_parse_error(name: str, stdout: str) -> None:
    expect_error(name, stdout)


JSON_KEYS = [
    "jobs", "error", "read", "write", "trim", "io_bytes", "iops", "bw", "bw_bytes", "clat_ns",
    "mean", "percentile", "50.000000", "99.000000", "end", "sum_sent", "sum_received",
    "bits_per_second", "retransmits",
]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=3), children, max_size=5)
    ),
    max_leaves=20,
)


def outcome_is_clean(name: str, stdout: str) -> None:
    """Either declared, finite metrics, or a one-line ParseError naming the parser."""
    try:
        found = parse(name, stdout)
    except ParseError as exc:
        assert exc.message.startswith(f"{name}: ")
        assert "\n" not in exc.one_line()
        return
    assert set(found) <= set(PARSERS[name].metrics)
    assert all(isinstance(v, float) and math.isfinite(v) for v in found.values())


@given(name=st.sampled_from(sorted(PARSERS)), stdout=st.text())
def test_arbitrary_text_gives_only_parse_error(name: str, stdout: str) -> None:
    outcome_is_clean(name, stdout)


@given(
    name=st.sampled_from(["fio-json", "iperf3-json"]),
    data=st.dictionaries(st.sampled_from(JSON_KEYS), json_values, max_size=4),
    preamble=st.sampled_from(["", "fio: warning\n", "{not json\n"]),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_json_gives_only_parse_error(
    name: str, data: dict[str, Any], preamble: str
) -> None:
    outcome_is_clean(name, preamble + json.dumps(data))


@given(fixture_name=st.sampled_from(ALL_FIXTURES), cut=st.floats(min_value=0, max_value=1))
def test_any_prefix_of_a_real_output_gives_only_parse_error(fixture_name: str, cut: float) -> None:
    text = fixture(fixture_name)
    outcome_is_clean(parser_for(fixture_name), text[: int(len(text) * cut)])


# --- made-up outputs round-trip -------------------------------------------------------------

figures = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
# How sysbench prints (%.2f, %4.2f) and, beyond it, any exact form Python gives.
formats = st.sampled_from(["{:.2f}", "{:4.2f}", "{!r}", "{:.6g}"])


def synthetic_sysbench_cpu(events: str, avg: str, p95: str) -> str:
    return (
        "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n\n"
        "CPU speed:\n"
        f"    events per second: {events:>8}\n\n"
        "General statistics:\n"
        "    total time:                          10.0002s\n\n"
        "Latency (ms):\n"
        "         min:                                    0.21\n"
        f"         avg:                               {avg:>8}\n"
        "         max:                                    2.42\n"
        f"         95th percentile:                   {p95:>8}\n"
        "         sum:                                 1992.83\n\n"
        "Threads fairness:\n"
        "    events (avg/stddev):           4390.5000/15.50\n"
    )


@given(events=figures, avg=figures, p95=figures, fmt=formats)
def test_sysbench_cpu_round_trip(events: float, avg: float, p95: float, fmt: str) -> None:
    texts = [fmt.format(x) for x in (events, avg, p95)]
    found = parse("sysbench-cpu", synthetic_sysbench_cpu(*texts))
    assert found == {
        "events_per_s": float(texts[0]),
        "latency_avg_ms": float(texts[1]),
        "latency_p95_ms": float(texts[2]),
    }


@given(mib=figures, ops=figures, fmt=formats)
def test_sysbench_memory_round_trip(mib: float, ops: float, fmt: str) -> None:
    mib_text, ops_text = fmt.format(mib), fmt.format(ops)
    stdout = (
        "Threads started!\n\n"
        f"Total operations: 6999700 ({ops_text} per second)\n\n"
        f"6835.64 MiB transferred ({mib_text} MiB/sec)\n\n\n"
        "General statistics:\n"
    )
    assert parse("sysbench-memory", stdout) == {
        "mib_per_s": float(mib_text),
        "ops_per_s": float(ops_text),
    }


@given(
    seconds=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    before=st.lists(st.text(alphabet=st.characters(exclude_characters="\r\n")), max_size=3),
    blank_after=st.integers(min_value=0, max_value=3),
)
def test_time_s_round_trip(seconds: float, before: list[str], blank_after: int) -> None:
    stdout = "\n".join([*before, f"  {seconds!r} "]) + "\n" * blank_after
    assert parse("time-s", stdout) == {"seconds": seconds}


@given(
    values=st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=4,
        max_size=4,
    ),
    full_rtt=st.booleans(),
)
def test_sockperf_round_trip(values: list[float], full_rtt: bool) -> None:
    avg, p50, p99, p999 = (float(f"{v:.3f}") for v in values)
    label = "rtt" if full_rtt else "latency"
    stdout = (
        f"sockperf: \x1b[2;35m====> avg-{label}={avg:.3f} (std-dev=1.000)\x1b[0m\n"
        "sockperf: \x1b[2;35mTotal 100 observations\x1b[0m; each percentile contains 1.00\n"
        f"sockperf: ---> percentile 99.900 = {p999:8.3f}\n"
        f"sockperf: ---> percentile 99.000 = {p99:8.3f}\n"
        f"sockperf: ---> percentile 50.000 = {p50:8.3f}\n"
    )
    found = parse("sockperf", stdout)
    printed = {"avg": avg, "p50": p50, "p99": p99, "p999": p999}
    for key, value in printed.items():
        if full_rtt:
            assert found[f"rtt_{key}_us"] == value
            assert found[f"latency_{key}_us"] == value / 2
        else:
            assert found[f"latency_{key}_us"] == value
            assert found[f"rtt_{key}_us"] == value * 2
    assert found["messages"] == 100.0


@given(
    iops=st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    bw_bytes=st.integers(min_value=0, max_value=2**50),
    mean_ns=st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    p99_ns=st.integers(min_value=0, max_value=2**40),
)
def test_fio_round_trip(iops: float, bw_bytes: int, mean_ns: float, p99_ns: int) -> None:
    data = fio_fixture("fio-randwrite-4k.json")
    stats = data["jobs"][0]["write"]
    stats.update(iops=iops, bw_bytes=bw_bytes)
    stats["clat_ns"]["mean"] = mean_ns
    stats["clat_ns"]["percentile"]["99.000000"] = p99_ns
    found = parse("fio-json", json.dumps(data))
    assert found["iops"] == iops
    assert found["bw_mib_s"] == bw_bytes / MiB
    assert found["lat_mean_us"] == mean_ns / 1000
    assert found["lat_p99_us"] == p99_ns / 1000
