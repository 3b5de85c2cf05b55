"""Benchmark tools' stdout -> named metrics, one small pure function per tool.

Each parser raises ParseError, and nothing else, whatever the text: an output that lacks the
tool's headline figure, or that the tool itself marks as failed, is unusable. A figure that
depends on the tool's options (a percentile that can be switched off, TCP retransmits under
UDP) is left out when absent instead: the runner checks the metrics a workload asks for and
names the missing ones itself.

Formats are those of the versions Debian 12 ships (sysbench 1.0.20, fio 3.33, iperf3 3.12,
sockperf 3.7); tests/unit/fixtures/parsers/ holds real outputs of each.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.core.errors import BenchError


class ParseError(BenchError):
    """A tool's output that gives no usable figure; the message names the parser."""


@dataclass(frozen=True)
class Parser:
    name: str
    # Every metric it may produce; a given output may lack the optional ones.
    metrics: tuple[str, ...]
    # stdout -> {metric: value}; raises ParseError only.
    parse: Callable[[str], dict[str, float]]


# re.ASCII: \d would also match other scripts' digits, which float() accepts but no tool prints.
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_NUM, re.ASCII)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _at_most_one(pattern: str, text: str, what: str) -> re.Match[str] | None:
    """The match of a multi-line pattern, if any; two would mean two runs' outputs glued."""
    found = list(re.finditer(pattern, text, re.MULTILINE | re.ASCII))
    if len(found) > 1:
        raise ParseError(f"{len(found)} {what} lines in the output, expected one")
    return found[0] if found else None


def _one(pattern: str, text: str, what: str) -> re.Match[str]:
    found = _at_most_one(pattern, text, what)
    if found is None:
        raise ParseError(f"no {what} line in the output")
    return found


def _one_line(text: str, limit: int = 200) -> str:
    """A foreign message fit for our one-line errors."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --- sysbench 1.0.20 ------------------------------------------------------------------------


def _sysbench_cpu(stdout: str) -> dict[str, float]:
    eps = _one(rf"^[ \t]*events per second:[ \t]*({_NUM})[ \t]*$", stdout, "'events per second'")
    # sysbench's latency block is always in ms; "avg:" appears nowhere else at a line start.
    avg = _one(rf"^[ \t]*avg:[ \t]*({_NUM})[ \t]*$", stdout, "latency 'avg:'")
    out = {"events_per_s": float(eps[1]), "latency_avg_ms": float(avg[1])}
    # --percentile=N prints "Nth percentile" (or "percentile stats: disabled"); only 95 fits
    # the metric's name, so any other setting leaves latency_p95_ms out.
    p95 = _at_most_one(
        rf"^[ \t]*95th percentile:[ \t]*({_NUM})[ \t]*$", stdout, "'95th percentile'"
    )
    if p95:
        out["latency_p95_ms"] = float(p95[1])
    return out


def _sysbench_memory(stdout: str) -> dict[str, float]:
    mib = _one(
        rf"^[ \t]*{_NUM} MiB transferred \(({_NUM}) MiB/sec\)[ \t]*$", stdout, "'MiB transferred'"
    )
    ops = _one(
        rf"^[ \t]*Total operations:[ \t]*\d+[ \t]*\(({_NUM}) per second\)[ \t]*$",
        stdout,
        "'Total operations'",
    )
    return {"mib_per_s": float(mib[1]), "ops_per_s": float(ops[1])}


# --- JSON tools -----------------------------------------------------------------------------


def _json_object(stdout: str, keys: tuple[str, ...]) -> dict[str, object]:
    """The first JSON object in the output that has one of `keys` at its top level.

    fio prints lines such as "fio: pid=..., err=28/..." to stdout before its JSON, so each
    line that starts with "{" is tried in turn; anything after the object is ignored.
    """
    decoder = json.JSONDecoder()
    problem = ""
    for start in re.finditer(r"^\{", stdout, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(stdout, start.start())
        except json.JSONDecodeError as exc:
            problem = problem or f"truncated or malformed JSON ({exc.msg} at line {exc.lineno})"
            continue
        # ValueError: an integer too long for int(); RecursionError: nesting too deep.
        except (ValueError, RecursionError) as exc:
            problem = problem or f"unreadable JSON ({_one_line(str(exc), 80)})"
            continue
        if isinstance(value, dict) and any(key in value for key in keys):
            return value
        problem = problem or f"no {' or '.join(map(repr, keys))} in the JSON object"
    raise ParseError(problem or "no JSON object in the output")


def _field(obj: object, *path: str) -> object:
    """obj[path[0]][path[1]]..., with the dotted path in the error if any step is missing."""
    for i, step in enumerate(path):
        if not isinstance(obj, dict) or step not in obj:
            raise ParseError(f"no {'.'.join(path[: i + 1])} in the JSON")
        obj = obj[step]
    return obj


def _as_number(value: object, where: str) -> float:
    # bool is an int to Python, but true/false in a number's place is a broken output; and
    # Python's json reads NaN and Infinity, which no tool means as a figure.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"{where} is not a number in the JSON")
    number = float(value)
    if not math.isfinite(number):
        raise ParseError(f"{where} is not a finite number in the JSON")
    return number


def _number(obj: object, *path: str) -> float:
    return _as_number(_field(obj, *path), ".".join(path))


def _has(obj: object, *path: str) -> bool:
    try:
        _field(obj, *path)
    except ParseError:
        return False
    return True


_FIO_DIRECTIONS = ("read", "write", "trim")
_FIO_STATS = ("iops", "bw_mib_s", "lat_p50_us", "lat_p99_us", "lat_mean_us")


def _fio_percentile(clat: object, wanted: float) -> float | None:
    """fio keys percentiles by "%f" text ("99.000000"): compare as numbers, not strings."""
    table = clat.get("percentile") if isinstance(clat, dict) else None
    if not isinstance(table, dict):
        return None
    for key, value in table.items():
        if _NUMBER.fullmatch(key) and float(key) == wanted:
            return _as_number(value, f"clat_ns.percentile.{key}")
    return None


def _fio_direction(stats: object) -> dict[str, float]:
    # bw_bytes is exact where bw is truncated to whole KiB/s; bw for a fio that lacks it.
    if _has(stats, "bw_bytes"):
        bw_mib_s = _number(stats, "bw_bytes") / 2**20
    else:
        bw_mib_s = _number(stats, "bw") / 1024
    out = {
        "iops": _number(stats, "iops"),
        "bw_mib_s": bw_mib_s,
        # Completion latency (submission -> completion), the one fio's own summary leads with.
        "lat_mean_us": _number(stats, "clat_ns", "mean") / 1000,
    }
    clat = _field(stats, "clat_ns")
    # Percentiles exist unless clat_percentiles was switched off (or moved to lat_ns).
    for metric, wanted in (("lat_p50_us", 50.0), ("lat_p99_us", 99.0)):
        ns = _fio_percentile(clat, wanted)
        if ns is not None:
            out[metric] = ns / 1000
    return out


def _errno_text(code: int) -> str:
    # os.strerror overflows on codes past a C int; fio's are errnos, anything else is odd.
    return f" ({os.strerror(code)})" if 0 < code < 4096 else ""


def _fio_json(stdout: str) -> dict[str, float]:
    jobs = _field(_json_object(stdout, ("jobs",)), "jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ParseError("no job in the JSON")
    if len(jobs) > 1:
        raise ParseError(f"{len(jobs)} jobs in the JSON, expected one (use --group_reporting)")
    job = jobs[0]
    # fio exits 1 then, but its JSON still holds figures, partial ones, for whoever reads on.
    error = int(_number(job, "error"))
    if error:
        raise ParseError(f"the job failed with error {error}{_errno_text(error)}")
    moved = [d for d in _FIO_DIRECTIONS if _has(job, d) and _number(job, d, "io_bytes") > 0]
    if not moved:
        raise ParseError("the job moved no bytes (io_bytes 0 in every direction)")
    if len(moved) == 1:
        return _fio_direction(_field(job, moved[0]))
    return {
        f"{d}_{metric}": value
        for d in moved
        for metric, value in _fio_direction(_field(job, d)).items()
    }


def _iperf3_json(stdout: str) -> dict[str, float]:
    # iperf3 3.12 -J exits 0 even when it could not connect: this key is the only sign.
    report = _json_object(stdout, ("end", "error"))
    if "error" in report:
        raise ParseError(f"iperf3 reported: {_one_line(str(report['error']))}")
    out = {
        "gbit_per_s": _number(report, "end", "sum_received", "bits_per_second") / 1e9,
        "sender_gbit_per_s": _number(report, "end", "sum_sent", "bits_per_second") / 1e9,
    }
    # UDP tests have no retransmits.
    if _has(report, "end", "sum_sent", "retransmits"):
        out["retransmits"] = _number(report, "end", "sum_sent", "retransmits")
    return out


# --- sockperf 3.7 ---------------------------------------------------------------------------

_SOCKPERF_PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))


def _sockperf(stdout: str) -> dict[str, float]:
    """sockperf ping-pong's summary, as one-way latency and as round trip.

    By default sockperf divides every round trip by two before its statistics ("avg-latency",
    "Summary: Latency is"); with --full-rtt it does not ("avg-rtt"). Its source divides each
    sample by the same denominator, so the other figure is exactly x2 or /2, up to the three
    decimals it prints. latency_* is therefore always half the round trip, rtt_* the whole.
    """
    # It colours its lines with ANSI escapes even when stdout is no terminal.
    text = _ANSI.sub("", stdout)
    # It exits 0 after these, so they must be caught here.
    error = re.search(r"^sockperf: ERROR: (.*)$", text, re.MULTILINE)
    if error:
        raise ParseError(f"client error: {_one_line(error[1])}")
    if "No messages were received from the server" in text:
        raise ParseError("no messages came back from the server (is it running?)")
    avg = _one(rf"====> avg-(latency|rtt)=({_NUM})", text, "'avg-latency' or 'avg-rtt'")
    to_latency = 0.5 if avg[1] == "rtt" else 1.0
    halves = {"avg": float(avg[2]) * to_latency}
    for key, wanted in _SOCKPERF_PERCENTILES:
        for line in re.finditer(rf"---> percentile ({_NUM}) =\s*({_NUM})", text, re.ASCII):
            if float(line[1]) == wanted:
                halves[key] = float(line[2]) * to_latency
    out = {f"latency_{key}_us": value for key, value in halves.items()}
    out |= {f"rtt_{key}_us": value * 2 for key, value in halves.items()}
    count = _at_most_one(r"Total (\d+) observations", text, "'Total N observations'")
    if count:
        out["messages"] = float(count[1])
    return out


# --- application workloads: sysbench oltp, redis-benchmark 7.0, wrk 4.1, hpcc 1.5 ---------


def _sysbench_oltp(stdout: str) -> dict[str, float]:
    tps = _one(
        rf"^[ \t]*transactions:[ \t]*\d+[ \t]*\(({_NUM}) per sec\.\)[ \t]*$",
        stdout,
        "'transactions:'",
    )
    qps = _one(
        rf"^[ \t]*queries:[ \t]*\d+[ \t]*\(({_NUM}) per sec\.\)[ \t]*$", stdout, "'queries:'"
    )
    if float(tps[1]) <= 0:
        raise ParseError("no transaction completed (0 per second)")
    out = {"tps": float(tps[1]), "qps": float(qps[1])}
    avg = _one(rf"^[ \t]*avg:[ \t]*({_NUM})[ \t]*$", stdout, "latency 'avg:'")
    out["latency_avg_ms"] = float(avg[1])
    p95 = _at_most_one(
        rf"^[ \t]*95th percentile:[ \t]*({_NUM})[ \t]*$", stdout, "'95th percentile'"
    )
    if p95:
        out["latency_p95_ms"] = float(p95[1])
    errors = _at_most_one(
        rf"^[ \t]*ignored errors:[ \t]*\d+[ \t]*\(({_NUM}) per sec\.\)", stdout, "'ignored errors'"
    )
    if errors:
        out["errors_per_s"] = float(errors[1])
    return out


_REDIS_COLUMNS = ("rps", "avg_latency_ms", "p50_latency_ms", "p99_latency_ms")
_REDIS_METRICS = ("rps", "latency_avg_ms", "latency_p50_ms", "latency_p99_ms")
_REDIS_TESTS = ("get", "set")


def _redis_benchmark_csv(stdout: str) -> dict[str, float]:
    """redis-benchmark --csv: a header line, then one quoted row per test (SET, GET...)."""
    rows = [line.strip() for line in stdout.splitlines() if line.strip().startswith('"')]
    if not rows or not rows[0].startswith('"test"'):
        raise ParseError('no CSV header line ("test","rps",...) in the output')
    header = [cell.strip('"') for cell in rows[0].split(",")]
    missing = [c for c in ("test", *_REDIS_COLUMNS) if c not in header]
    if missing:
        raise ParseError(f"no {', '.join(missing)} column in the CSV header")
    out: dict[str, float] = {}
    for row in rows[1:]:
        cells = [cell.strip('"') for cell in row.split(",")]
        if len(cells) != len(header):
            raise ParseError(f"a CSV row has {len(cells)} cells, the header {len(header)}")
        values = dict(zip(header, cells, strict=True))
        test = values["test"].lower()
        if test not in _REDIS_TESTS:
            continue
        if any(metric.startswith(f"{test}_") for metric in out):
            raise ParseError(f"two {test.upper()} rows in the output, expected one")
        for column, metric in zip(_REDIS_COLUMNS, _REDIS_METRICS, strict=True):
            if not _NUMBER.fullmatch(values[column]):
                raise ParseError(f"{test.upper()} {column} {values[column][:20]!r} not a number")
            out[f"{test}_{metric}"] = float(values[column])
        if out[f"{test}_rps"] <= 0:
            raise ParseError(f"{test.upper()} made no request (0 requests/s)")
    if not out:
        raise ParseError("no GET or SET row in the output")
    return out


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str) -> float:
    found = re.fullmatch(rf"({_NUM})(us|ms|s|m|h)", text, re.ASCII)
    if not found:
        raise ParseError(f"latency {text[:20]!r} has no unit wrk prints (us, ms, s)")
    return float(found[1]) * _WRK_UNITS[found[2]]


def _wrk(stdout: str) -> dict[str, float]:
    """wrk --latency: Requests/sec and the latency distribution (50/75/90/99 %)."""
    rps = _one(rf"^Requests/sec:[ \t]*({_NUM})[ \t]*$", stdout, "'Requests/sec:'")
    # A 404 or 500 is answered fast: counted as throughput it would flatter the server.
    bad = _at_most_one(r"^[ \t]*Non-2xx or 3xx responses:[ \t]*(\d+)", stdout, "'Non-2xx'")
    if bad and int(bad[1]) > 0:
        raise ParseError(f"{bad[1]} responses were not 2xx or 3xx (wrong path or a broken server)")
    out = {"rps": float(rps[1])}
    if out["rps"] <= 0:
        raise ParseError("no request completed (0 requests/s)")
    for pct in ("50", "75", "90", "99"):
        line = _at_most_one(rf"^[ \t]*{pct}%[ \t]+(\S+)[ \t]*$", stdout, f"'{pct}%'")
        if line:
            out[f"latency_p{pct}_ms"] = _wrk_ms(line[1])
    errors = _at_most_one(
        r"^[ \t]*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        stdout,
        "'Socket errors'",
    )
    out["socket_errors"] = float(sum(int(n) for n in errors.groups())) if errors else 0.0
    return out


def _hpcc(stdout: str) -> dict[str, float]:
    """hpccoutf.txt's summary section: key=value lines between its Begin and End markers."""
    section = re.search(
        r"^Begin of Summary section\.$(.*?)^End of Summary section\.$", stdout, re.M | re.S
    )
    if section is None:
        raise ParseError("no complete summary section (did hpcc finish?)")
    pairs = dict(re.findall(r"^(\w+)=(\S*)$", section[1], re.MULTILINE))
    wanted = {
        "hpl_gflops": ("HPL_Tflops", 1000.0),
        "stream_triad_gb_s": ("SingleSTREAM_Triad", 1.0),
        "star_stream_triad_gb_s": ("StarSTREAM_Triad", 1.0),
        "randomaccess_gups": ("MPIRandomAccess_GUPs", 1.0),
        "single_randomaccess_gups": ("SingleRandomAccess_GUPs", 1.0),
    }
    out: dict[str, float] = {}
    for metric, (key, scale) in wanted.items():
        value = pairs.get(key, "")
        if _NUMBER.fullmatch(value):
            out[metric] = float(value) * scale
    if "hpl_gflops" not in out:
        raise ParseError("no HPL_Tflops figure in the summary")
    # hpcc sums up its own checks (HPL's residual among them): a failed one is a wrong result.
    if pairs.get("Success", "1") != "1":
        raise ParseError(f"hpcc's summary says Success={pairs['Success']} (a check failed)")
    return out


# --- generic --------------------------------------------------------------------------------


def _time_s(stdout: str) -> dict[str, float]:
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ParseError("empty output, expected a number of seconds on the last line")
    # fullmatch on our own pattern: float() would also take "nan", "inf" and "1_000".
    if not _NUMBER.fullmatch(lines[-1]):
        raise ParseError(f"last line {lines[-1][:40]!r} is not a number of seconds")
    seconds = float(lines[-1])
    if seconds < 0:
        raise ParseError(f"last line {lines[-1]!r} is a negative number of seconds")
    return {"seconds": seconds}


# --- registry -------------------------------------------------------------------------------


def _named(
    name: str, parse_fn: Callable[[str], dict[str, float]]
) -> Callable[[str], dict[str, float]]:
    """parse_fn with its errors prefixed by the parser's name, and its figures checked finite."""

    def parse_named(stdout: str) -> dict[str, float]:
        # A TTY on the way (docker exec -t, a serial console) turns each \n into \r\n.
        text = stdout.replace("\r\n", "\n")
        try:
            found = parse_fn(text)
        except ParseError as exc:
            raise ParseError(f"{name}: {exc.message}", exc.hint) from None
        bad = sorted(metric for metric, value in found.items() if not math.isfinite(value))
        if bad:
            raise ParseError(f"{name}: {', '.join(bad)} not a finite number")
        return found

    return parse_named


def _parser(
    name: str, metrics: tuple[str, ...], parse_fn: Callable[[str], dict[str, float]]
) -> Parser:
    return Parser(name, metrics, _named(name, parse_fn))


def _prefixed(prefixes: tuple[str, ...], names: tuple[str, ...]) -> Iterator[str]:
    return (f"{prefix}_{name}" for prefix in prefixes for name in names)


PARSERS: dict[str, Parser] = {
    "sysbench-cpu": _parser(
        "sysbench-cpu",
        (
            "events_per_s",  # events/s
            "latency_avg_ms",  # ms
            "latency_p95_ms",  # ms
        ),
        _sysbench_cpu,
    ),
    "sysbench-memory": _parser(
        "sysbench-memory",
        (
            "mib_per_s",  # MiB/s
            "ops_per_s",  # operations/s
        ),
        _sysbench_memory,
    ),
    "fio-json": _parser(
        "fio-json",
        # iops (IO/s), bw_mib_s (MiB/s), lat_* (us, completion latency); prefixed by the
        # direction (read_iops...) when more than one direction moved bytes.
        (*_FIO_STATS, *_prefixed(_FIO_DIRECTIONS, _FIO_STATS)),
        _fio_json,
    ),
    "iperf3-json": _parser(
        "iperf3-json",
        (
            "gbit_per_s",  # Gbit/s (1e9 bit/s) at the receiver
            "sender_gbit_per_s",  # Gbit/s at the sender
            "retransmits",  # TCP segments, whole run
        ),
        _iperf3_json,
    ),
    "sockperf": _parser(
        "sockperf",
        (
            # us, one-way: half the round trip
            "latency_avg_us",
            "latency_p50_us",
            "latency_p99_us",
            "latency_p999_us",
            # us, the whole round trip
            "rtt_avg_us",
            "rtt_p50_us",
            "rtt_p99_us",
            "rtt_p999_us",
            "messages",  # round trips measured (warm-up and cool-down excluded)
        ),
        _sockperf,
    ),
    "sysbench-oltp": _parser(
        "sysbench-oltp",
        (
            "tps",  # transactions/s
            "qps",  # queries/s
            "latency_avg_ms",  # ms, per transaction
            "latency_p95_ms",  # ms, per transaction
            "errors_per_s",  # ignored errors (deadlocks) per second
        ),
        _sysbench_oltp,
    ),
    # requests/s and ms per request, by test: get_rps, get_latency_p99_ms, set_...
    "redis-benchmark-csv": _parser(
        "redis-benchmark-csv",
        tuple(_prefixed(_REDIS_TESTS, _REDIS_METRICS)),
        _redis_benchmark_csv,
    ),
    "wrk": _parser(
        "wrk",
        (
            "rps",  # requests/s
            "latency_p50_ms",  # ms
            "latency_p75_ms",
            "latency_p90_ms",
            "latency_p99_ms",
            "socket_errors",  # connect + read + write + timeout errors, whole run
        ),
        _wrk,
    ),
    "hpcc": _parser(
        "hpcc",
        (
            "hpl_gflops",  # GFLOP/s, HPL over every process
            "stream_triad_gb_s",  # GB/s, STREAM triad in one process
            "star_stream_triad_gb_s",  # GB/s, per process with every process running
            "randomaccess_gups",  # GUP/s, MPI RandomAccess over every process
            "single_randomaccess_gups",  # GUP/s, one process
        ),
        _hpcc,
    ),
    "time-s": _parser("time-s", ("seconds",), _time_s),  # s
}


def parse(parser_name: str, stdout: str) -> dict[str, float]:
    """stdout -> {metric: value} with the named parser; ParseError if the output is unusable."""
    parser = PARSERS.get(parser_name)
    if parser is None:
        raise BenchError(f"unknown parser {parser_name!r}; known: {', '.join(sorted(PARSERS))}")
    return parser.parse(stdout)
