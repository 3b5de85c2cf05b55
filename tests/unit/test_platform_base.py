"""Limits, the instance probe, the marker log, Docker's stream framing, signal shielding."""

from __future__ import annotations

import os
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from bench.core.errors import BenchError, InstanceTimeout
from bench.platforms import docker_stream, lifecycle
from bench.platforms.docker_stream import Demux
from bench.platforms.output import MarkerLog
from bench.platforms.protocol import InstanceInfo, Limits, format_cpuset, parse_cpuset


class TestLimits:
    def test_valid(self) -> None:
        limits = Limits(2, 512, (0, 1))
        assert limits.cpuset_text == "0-1"

    @pytest.mark.parametrize(
        ("vcpus", "memory", "cpuset", "words"),
        [
            (0, 512, (), "at least 1"),
            (1, 64, (0,), "at least 128"),
            (2, 512, (0,), "1 CPUs for 2 vCPUs"),
            (1, 512, (0, 0), "repeated"),
            (1, 512, (-1,), "negative"),
        ],
    )
    def test_invalid(self, vcpus: int, memory: int, cpuset: tuple[int, ...], words: str) -> None:
        with pytest.raises(BenchError, match=words):
            Limits(vcpus, memory, cpuset)

    def test_frozen(self) -> None:
        with pytest.raises(AttributeError):
            Limits(1, 512, (0,)).vcpus = 2  # type: ignore[misc]

    def test_on_host_defaults_to_the_first_cpus(self) -> None:
        first = min(os.sched_getaffinity(0))
        assert Limits.on_host(1, 256).cpuset == (first,)

    def test_on_host_refuses_cpus_it_lacks(self) -> None:
        with pytest.raises(BenchError, match="not available"):
            Limits.on_host(1, 256, "4095")

    def test_cpuset_round_trip(self) -> None:
        assert parse_cpuset("0-2,5,7-8") == (0, 1, 2, 5, 7, 8)
        assert format_cpuset((8, 0, 1, 2, 5, 7)) == "0-2,5,7-8"
        with pytest.raises(BenchError):
            parse_cpuset("zero")


def test_instance_info_parses_the_probe() -> None:
    out = "2\nMemTotal:         480000 kB\n6.1.0-56-cloud-amd64\n268435456\n"
    info = InstanceInfo.parse(out)
    assert (info.nproc, info.mem_total_mib, info.memory_limit_mib) == (2, 468, 256)
    assert info.visible_memory_mib == 256
    unlimited = InstanceInfo.parse("1\nMemTotal: 2048000 kB\nk\n9223372036854771712\n")
    assert unlimited.memory_limit_mib is None and unlimited.visible_memory_mib == 2000
    assert InstanceInfo.parse("1\nMemTotal: 2048000 kB\nk\nmax\n").memory_limit_mib is None


class TestMarkerLog:
    def test_marker_split_across_chunks(self, tmp_path: Path) -> None:
        log = MarkerLog(tmp_path / "x.log", "x")
        log.feed(b"booting\r\nVCBENCH-RE")
        assert log.ready_at is None
        log.feed(b"ADY abc\r\nmore")
        assert log.ready_line == "VCBENCH-READY abc"
        assert log.wait_ready(1.0, time.perf_counter()) == log.ready_at
        log.close()
        assert (tmp_path / "x.log").read_bytes() == b"booting\r\nVCBENCH-READY abc\r\nmore"

    def test_timeout_names_instance_and_shows_the_last_lines(self, tmp_path: Path) -> None:
        log = MarkerLog(tmp_path / "x.log", "vm-7")
        log.feed(b"".join(b"line %d\n" % i for i in range(40)) + b"Kernel panic")
        with pytest.raises(InstanceTimeout) as err:
            log.wait_ready(0.2, time.perf_counter())
        text = err.value.message
        assert "vm-7" in text and "0.2 s" in text and "Kernel panic" in text
        assert "line 39" in text and "line 3\n" not in text

    def test_ended_stream_fails_at_once(self, tmp_path: Path) -> None:
        log = MarkerLog(tmp_path / "x.log", "x")
        threading.Timer(0.05, log.end).start()
        # "output ended", not the 30 s deadline's "did not print": it did not wait it out
        with pytest.raises(InstanceTimeout, match="output ended"):
            log.wait_ready(30, time.perf_counter())


def test_demux_any_chunking() -> None:
    raw = b"".join(
        struct.pack(">BxxxL", stream, len(payload)) + payload
        for stream, payload in [(1, b"out1 "), (2, b"err"), (1, b"out2")]
    )
    demux = Demux()
    frames = [f for i in range(len(raw)) for f in demux.feed(raw[i : i + 1])]
    assert frames == [(1, b"out1 "), (2, b"err"), (1, b"out2")]
    assert Demux().merged(raw) == b"out1 errout2"


def test_a_quiet_stream_whose_source_died_ends_before_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_stream, "ALIVE_EVERY_S", 0.0)
    asked: list[bool] = []

    def alive() -> bool:
        asked.append(len(asked) < 2)
        return asked[-1]

    quiet, other = socket.socketpair()
    try:
        far = time.perf_counter() + 3600
        assert docker_stream.read_all(quiet.fileno(), far, alive) is None
        assert asked == [True, True, False]  # asked only while quiet, and it ended at "gone"
        other.sendall(struct.pack(">BxxxL", 1, 2) + b"ok")
        other.close()
        assert docker_stream.read_all(quiet.fileno(), far, lambda: False) == (b"ok", b"")
    finally:
        quiet.close()


class TestLifecycle:
    def test_shielded_defers_sigint_to_the_end(self) -> None:
        # as at a terminal, whatever this pytest inherited (`nohup ... &` ignores SIGINT)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        done = []
        try:
            with pytest.raises(KeyboardInterrupt), lifecycle.shielded():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                done.append("finished")
        finally:
            signal.signal(signal.SIGINT, previous)
        assert done == ["finished"]

    def test_sigterm_raises_terminated(self) -> None:
        with pytest.raises(lifecycle.Terminated), lifecycle.sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def test_resources_release_in_reverse_even_when_one_fails(self) -> None:
        released: list[str] = []

        def release(name: str) -> None:
            released.append(name)
            if name == "b":
                raise RuntimeError("b is stuck")

        with pytest.raises(ValueError), lifecycle.Resources() as res:
            for name in "abc":
                res.acquire(lambda n=name: n, release)
            raise ValueError("boom")
        assert released == ["c", "b", "a"]
