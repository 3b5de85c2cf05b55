"""The application workloads' parsers on real outputs recorded on this machine
(tests/unit/fixtures/apps/): redis-benchmark 7.0.15 --csv, wrk 4.1.0 --latency, hpcc 1.5.0's
hpccoutf.txt, sysbench 1.0.20 oltp_read_write against MariaDB 10.11. Expected numbers were
read off the files by hand; the failure cases are the real outputs with the fault put in."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core.parsers import PARSERS, ParseError, parse
from bench.core.workload import load_all

FIXTURES = Path(__file__).parent / "fixtures" / "apps"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def refused(parser: str, stdout: str, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(parser, stdout)
    assert caught.value.one_line().startswith(f"{parser}: ")
    assert fragment in caught.value.one_line()


def test_redis_benchmark_csv_golden() -> None:
    found = parse("redis-benchmark-csv", fixture("redis-benchmark-csv.txt"))
    assert found == {
        "set_rps": 24594.20,
        "set_latency_avg_ms": 0.324,
        "set_latency_p50_ms": 0.079,
        "set_latency_p99_ms": 5.567,
        "get_rps": 25087.81,
        "get_latency_avg_ms": 0.320,
        "get_latency_p50_ms": 0.079,
        "get_latency_p99_ms": 5.807,
    }


def test_redis_benchmark_refuses_no_header_two_rows_and_no_server() -> None:
    text = fixture("redis-benchmark-csv.txt")
    refused("redis-benchmark-csv", "\n".join(text.splitlines()[1:]), "no CSV header")
    get_row = text.splitlines()[2]
    refused("redis-benchmark-csv", text + get_row + "\n", "two GET rows")
    # what redis-benchmark prints when nothing listens: no CSV at all
    refused(
        "redis-benchmark-csv",
        "Could not connect to Redis at 127.0.0.1:16379: Connection refused\n",
        "no CSV header",
    )
    refused("redis-benchmark-csv", text.replace("25087.81", "0.00"), "made no request")


def test_wrk_golden_in_ms() -> None:
    found = parse("wrk", fixture("wrk-latency.txt"))
    assert found == {
        "rps": 7446.79,
        "latency_p50_ms": 0.89,
        "latency_p75_ms": 3.71,
        "latency_p90_ms": 5.65,
        "latency_p99_ms": 9.69,
        "socket_errors": 0.0,
    }


def test_wrk_units_and_errors() -> None:
    text = fixture("wrk-latency.txt")
    found = parse("wrk", text.replace("0.89ms", "890.00us").replace("9.69ms", "1.20s"))
    assert found["latency_p50_ms"] == pytest.approx(0.89)
    assert found["latency_p99_ms"] == pytest.approx(1200.0)
    with_errors = text.replace(
        "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 2\nRequests/sec"
    )
    assert parse("wrk", with_errors)["socket_errors"] == 5.0
    # a wrong path is answered fast with 404s: never a figure
    not_found = text.replace("Requests/sec", "  Non-2xx or 3xx responses: 22487\nRequests/sec")
    refused("wrk", not_found, "not 2xx or 3xx")
    refused("wrk", "unable to connect to 127.0.0.1:18080 Connection refused\n", "Requests/sec")


def test_hpcc_golden() -> None:
    found = parse("hpcc", fixture("hpcc-outf.txt"))
    assert found["hpl_gflops"] == pytest.approx(3.00053)
    assert found["stream_triad_gb_s"] == 32.483
    assert found["star_stream_triad_gb_s"] == 32.483
    assert found["randomaccess_gups"] == 0.00569981
    assert found["single_randomaccess_gups"] == 0.0596976


def test_hpcc_refuses_an_unfinished_or_failed_run() -> None:
    text = fixture("hpcc-outf.txt")
    refused("hpcc", text.replace("End of Summary section.", ""), "no complete summary")
    refused("hpcc", text.replace("Success=1", "Success=0"), "Success=0")
    refused("hpcc", text.replace("HPL_Tflops=", "HPL_Tflopz="), "no HPL_Tflops")


def test_sysbench_oltp_golden() -> None:
    found = parse("sysbench-oltp", fixture("sysbench-oltp-rw.txt"))
    assert found == {
        "tps": 696.07,
        "qps": 13931.99,
        "latency_avg_ms": 5.74,
        "latency_p95_ms": 9.39,
        "errors_per_s": 0.67,
    }


def test_sysbench_oltp_refuses_a_failed_connection() -> None:
    text = fixture("sysbench-oltp-rw.txt")
    cut = text.split("Threads started!")[0] + "FATAL: Thread initialization failed!\n"
    refused("sysbench-oltp", cut, "'transactions:'")
    refused("sysbench-oltp", text.replace("(696.07 per sec.)", "(0.00 per sec.)"), "no transaction")


@pytest.mark.parametrize(
    "name", ["app-redis-c10", "app-redis-c50", "app-mariadb-oltp", "app-nginx-wrk", "app-hpcc"]
)
def test_app_workload_metrics_come_from_its_parser(name: str) -> None:
    workload = load_all()[name]
    assert workload.parser in PARSERS
    assert set(workload.metrics) <= set(PARSERS[workload.parser].metrics)
    # the load generator's placement is stated, as the issue asks
    assert ("host" in workload.method) or workload.runs_on == "instance"
