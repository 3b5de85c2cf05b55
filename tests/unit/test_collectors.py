"""Collectors without a platform: the sampler on fake sources, the summary math on hand-made
readings, and every parser on file text written here (v1 and v2 cgroup formats alike).

No test here asserts on wall-clock speed; waiting for ticks polls for the condition."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from bench.collectors import Field, Reading, Sampler, SeriesSummary, sources_for
from bench.collectors import sampler as base
from bench.collectors.cgroup_source import CgroupSource, usable
from bench.collectors.domain import DomainSource, parse_domain_stats
from bench.collectors.host import HostSource, busy_s
from bench.collectors.proctree import CpuLedger, ProcessSet, TaggedPids
from bench.collectors.qemu import QemuSource, is_qemu_of, qemu_pid
from bench.collectors.records import counter, gauge
from bench.collectors.summary import summarize
from bench.core.errors import BenchError, PlatformError
from bench.host.cgroupfs import (
    CgroupDir,
    CgroupDirs,
    cgroup_dirs,
    parse_blkio_bytes,
    parse_io_stat,
    parse_keyed,
    parse_mountinfo,
    parse_proc_cgroup,
)
from bench.host.procfs import (
    CLK_TCK,
    PAGE_SIZE,
    ProcStat,
    parse_io,
    parse_smaps_rollup,
    parse_stat,
)

WAIT_S = 30.0  # a generous bound for conditions a tick or two make true


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


# --- fake sources: stand-ins for real ones, unit tests only ---------------------------------


class FakeCounterSource:
    """A fake: a counter that grows by one per read and a constant gauge."""

    fields: ClassVar[Mapping[str, Field]] = {"work_s": counter("s"), "mem_bytes": gauge("B")}

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.reads = 0

    def read(self) -> dict[str, float]:
        self.reads += 1
        return {"work_s": float(self.reads), "mem_bytes": 100.0}


class FakeBrokenSource:
    """A fake that fails on every read."""

    name = "broken"
    fields: ClassVar[Mapping[str, Field]] = {}

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> dict[str, float]:
        self.reads += 1
        raise OSError("the file went away")


class FakeBlockingSource:
    """A fake whose reads wait until the test releases them, as a stuck libvirtd would."""

    name = "stuck"
    fields: ClassVar[Mapping[str, Field]] = {"v_bytes": gauge("B")}

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def read(self) -> dict[str, float]:
        self.entered.set()
        self.release.wait()
        return {"v_bytes": 1.0}


# --- summary math ---------------------------------------------------------------------------

FIELDS: dict[str, Mapping[str, Field]] = {
    "s": {"cpu_s": counter("s"), "io_bytes": counter("B"), "mem_bytes": gauge("B")}
}


def readings(field: str, points: list[tuple[float, float]]) -> list[Reading]:
    return [Reading(t, "s", {field: v}) for t, v in points]


def only(summaries: list[SeriesSummary]) -> SeriesSummary:
    assert len(summaries) == 1, summaries
    return summaries[0]


class TestSummary:
    def test_a_cpu_counter_becomes_a_share_of_cores(self) -> None:
        got = only(summarize(readings("cpu_s", [(0, 10), (1, 12), (3, 13)]), FIELDS))
        # rates 2 and 0.5 cores; the mean is weighted by time: 3 s of CPU over 3 s
        assert got == SeriesSummary("s", "cpu_s", "cores", 1.0, 2.0, 2)

    def test_a_byte_counter_becomes_bytes_per_second(self) -> None:
        got = only(summarize(readings("io_bytes", [(0, 0), (0.5, 100), (1.0, 100)]), FIELDS))
        assert (got.unit, got.mean, got.peak, got.n) == ("B/s", 100.0, 200.0, 2)

    def test_a_gauge_is_summarised_by_its_values(self) -> None:
        got = only(summarize(readings("mem_bytes", [(0, 10), (1, 30), (2, 20)]), FIELDS))
        assert got == SeriesSummary("s", "mem_bytes", "B", 20.0, 30.0, 3)

    def test_a_counter_reset_leaves_its_interval_out(self) -> None:
        got = only(summarize(readings("cpu_s", [(0, 5), (1, 6), (2, 1), (3, 3)]), FIELDS))
        assert (got.mean, got.peak, got.n) == (1.5, 2.0, 2)

    def test_a_counter_read_once_has_no_rate(self) -> None:
        assert summarize(readings("cpu_s", [(0, 5)]), FIELDS) == []

    def test_a_field_missing_from_a_reading_spans_the_gap(self) -> None:
        rs = [Reading(0, "s", {"cpu_s": 0}), Reading(1, "s", {}), Reading(2, "s", {"cpu_s": 4})]
        assert only(summarize(rs, FIELDS)).n == 1
        assert only(summarize(rs, FIELDS)).mean == 2.0

    def test_an_undescribed_field_is_a_plain_gauge(self) -> None:
        got = only(summarize([Reading(0, "other", {"x": 3.0})], FIELDS))
        assert (got.unit, got.mean, got.n) == ("", 3.0, 1)

    def test_series_keep_their_sources_apart(self) -> None:
        rs = [Reading(0, "a", {"v": 1.0}), Reading(0, "b", {"v": 3.0})]
        assert [(s.source, s.mean) for s in summarize(rs, {})] == [("a", 1.0), ("b", 3.0)]


# --- the sampler ----------------------------------------------------------------------------


class TestSampler:
    def test_reads_every_source_and_summarises(self) -> None:
        fake = FakeCounterSource()
        with Sampler([fake], rate_hz=200) as sampler:
            wait_for(lambda: len(sampler.readings) >= 3)
        assert sampler.errors == []
        assert all(r.source == "fake" for r in sampler.readings)
        times = [r.t for r in sampler.readings]
        assert times == sorted(times) and times[0] >= 0
        by_field = {s.field: s for s in sampler.summary()}
        assert by_field["mem_bytes"].mean == 100.0
        assert by_field["mem_bytes"].n == len(sampler.readings)
        assert by_field["work_s"].unit == "cores"
        assert by_field["work_s"].n == len(sampler.readings) - 1

    def test_a_failing_source_is_dropped_after_its_first_error(self) -> None:
        broken, fake = FakeBrokenSource(), FakeCounterSource()
        with Sampler([broken, fake], rate_hz=200) as sampler:
            wait_for(lambda: fake.reads >= 3)
        assert broken.reads == 1
        assert sampler.errors == ["broken: OSError: the file went away"]
        assert {r.source for r in sampler.readings} == {"fake"}

    def test_the_sink_gets_every_reading(self) -> None:
        got: list[Reading] = []
        with Sampler([FakeCounterSource("a"), FakeCounterSource("b")], 200, got.append) as s:
            wait_for(lambda: len(got) >= 4)
        assert got == s.readings

    def test_a_failing_sink_is_dropped_and_sampling_goes_on(self) -> None:
        calls: list[Reading] = []

        def sink(reading: Reading) -> None:
            calls.append(reading)
            raise ValueError("full")

        with Sampler([FakeCounterSource()], rate_hz=200, sink=sink) as sampler:
            wait_for(lambda: len(sampler.readings) >= 3)
        assert len(calls) == 1
        assert sampler.errors == ["sink: ValueError: full"]

    def test_leaving_takes_one_last_reading(self) -> None:
        fake = FakeCounterSource()
        with Sampler([fake], rate_hz=0.001) as sampler:  # the next slot is 1000 s away
            wait_for(lambda: len(sampler.readings) == 1)
        assert len(sampler.readings) == 2
        assert sampler.cost.ticks == 2

    def test_leaving_joins_the_thread(self) -> None:
        with Sampler([FakeCounterSource()], rate_hz=200):
            pass
        assert not any(t.name.startswith("vcbench-sampler") for t in threading.enumerate())

    def test_a_blocked_source_does_not_hold_the_others_back(self) -> None:
        stuck, fake = FakeBlockingSource(), FakeCounterSource()
        with Sampler([stuck, fake], rate_hz=200) as sampler:
            stuck.entered.wait(WAIT_S)
            before = fake.reads
            wait_for(lambda: fake.reads >= before + 3)
            stuck.release.set()
        assert sampler.errors == []
        assert any(r.source == "stuck" for r in sampler.readings)

    def test_leaving_does_not_wait_forever_for_a_stuck_source(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(base, "JOIN_TIMEOUT_S", 0.05)
        stuck = FakeBlockingSource()
        with Sampler([stuck, FakeCounterSource()], rate_hz=200) as sampler:
            stuck.entered.wait(WAIT_S)
        assert sampler.errors == ["stuck: still in a read after 0.05 s"]
        kept = len(sampler.readings)
        stuck.release.set()  # its read ends now: too late to be kept
        wait_for(lambda: not any(t.name == "vcbench-sampler-stuck" for t in threading.enumerate()))
        assert len(sampler.readings) == kept
        assert all(r.source == "fake" for r in sampler.readings)

    def test_cost_is_reported(self) -> None:
        with Sampler([FakeCounterSource()], rate_hz=200) as sampler:
            wait_for(lambda: len(sampler.readings) >= 3)
        cost = sampler.cost
        assert cost.ticks == len(sampler.readings)
        assert cost.wall_s > 0 and cost.cpu_s >= 0 and cost.mean_tick_s >= 0
        assert cost.core_share == pytest.approx(cost.cpu_s / cost.wall_s)
        assert set(cost.mean_read_s) == {"fake"}
        assert cost == sampler.cost  # frozen once stopped

    def test_a_sampler_runs_once(self) -> None:
        sampler = Sampler([FakeCounterSource()])
        with sampler:
            pass
        with pytest.raises(BenchError, match="runs once"), sampler:
            pass

    @pytest.mark.parametrize("rate", [0.0, -1.0])
    def test_the_rate_must_be_positive(self, rate: float) -> None:
        with pytest.raises(BenchError, match="positive"):
            Sampler([], rate_hz=rate)

    def test_source_names_must_be_distinct(self) -> None:
        with pytest.raises(BenchError, match="distinct"):
            Sampler([FakeCounterSource("x"), FakeCounterSource("x")])


# --- cgroup files ---------------------------------------------------------------------------

CID = "eeb560aba9a4"
PROC_CGROUP_HYBRID = f"""\
9:name=systemd:/docker/{CID}
7:blkio:/docker/{CID}
4:memory:/docker/{CID}
2:cpuacct:/docker/{CID}
1:cpu:/docker/{CID}
0::/docker/{CID}
"""
MOUNTINFO_HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
SCOPE = f"/system.slice/docker-{CID}.scope"
PROC_CGROUP_V2 = f"0::{SCOPE}\n"
MOUNTINFO_V2 = """\
22 1 0:21 / /proc rw,nosuid - proc proc rw
25 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""


class TestCgroupLocation:
    def test_proc_cgroup_lists_controllers_and_the_unified_path(self) -> None:
        paths = parse_proc_cgroup("3:cpu,cpuacct:/a\n2:memory:/b\n0::/c\n")
        assert paths == {"cpu": "/a", "cpuacct": "/a", "memory": "/b", "": "/c"}

    def test_mountinfo_keeps_cgroup_mounts_only(self) -> None:
        mounts = parse_mountinfo(MOUNTINFO_HYBRID)
        assert mounts[0].mountpoint == "/sys/fs/cgroup/cpu"
        assert len(mounts) == 6
        assert mounts[-1].version == 2 and mounts[-1].controllers == frozenset()
        assert "cpuacct" in mounts[1].controllers

    def test_mountinfo_escapes_are_decoded(self) -> None:
        line = r"50 31 0:40 / /mnt/my\040cg rw - cgroup cgroup rw,memory" + "\n"
        assert parse_mountinfo(line)[0].mountpoint == "/mnt/my cg"

    def test_hybrid_reads_the_v1_controllers(self) -> None:
        dirs = cgroup_dirs(PROC_CGROUP_HYBRID, MOUNTINFO_HYBRID)
        assert dirs.memory == CgroupDir(Path(f"/sys/fs/cgroup/memory/docker/{CID}"), 1)
        assert dirs.cpu == CgroupDir(Path(f"/sys/fs/cgroup/cpuacct/docker/{CID}"), 1)
        assert dirs.io == CgroupDir(Path(f"/sys/fs/cgroup/blkio/docker/{CID}"), 1)

    def test_pure_v2_reads_the_one_unified_directory(self) -> None:
        dirs = cgroup_dirs(PROC_CGROUP_V2, MOUNTINFO_V2)
        v2 = CgroupDir(Path("/sys/fs/cgroup" + SCOPE), 2)
        assert dirs == CgroupDirs(v2, v2, v2)

    def test_a_combined_cpu_cpuacct_mount(self) -> None:
        mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        dirs = cgroup_dirs("2:cpu,cpuacct:/docker/x\n", mountinfo)
        assert dirs.cpu == CgroupDir(Path("/sys/fs/cgroup/cpu,cpuacct/docker/x"), 1)
        assert dirs.memory is None and dirs.io is None

    def test_a_mount_of_a_sub_tree_is_resolved_below_its_root(self) -> None:
        mountinfo = "35 31 0:32 /docker /cg/memory rw - cgroup cgroup rw,memory\n"
        dirs = cgroup_dirs("4:memory:/docker/x\n", mountinfo)
        assert dirs.memory == CgroupDir(Path("/cg/memory/x"), 1)
        assert cgroup_dirs("4:memory:/elsewhere\n", mountinfo).memory is None


V1_MEMORY_STAT = """\
cache 2215936
rss 98304
rss_huge 0
mapped_file 1298432
hierarchical_memory_limit 268435456
total_cache 3215936
total_rss 198304
"""
V2_MEMORY_STAT = """\
anon 4096000
file 8192000
kernel_stack 16384
pgfault 1153
"""
V2_CPU_STAT = "usage_usec 34121\nuser_usec 15242\nsystem_usec 18878\nnice_usec 0\n"
V1_BLKIO = """\
254:0 Read 4096
254:0 Write 8192
254:0 Sync 12288
254:0 Async 0
254:0 Discard 0
254:0 Total 12288
8:0 Read 1
8:0 Write 2
Total 12291
"""
V2_IO_STAT = """\
254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0
8:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0
"""


class TestCgroupFiles:
    def test_keyed_files(self) -> None:
        assert parse_keyed(V1_MEMORY_STAT)["total_rss"] == 198304
        assert parse_keyed(V2_MEMORY_STAT) == {
            "anon": 4096000, "file": 8192000, "kernel_stack": 16384, "pgfault": 1153
        }  # fmt: skip
        assert parse_keyed(V2_CPU_STAT)["usage_usec"] == 34121

    def test_blkio_sums_read_and_write_over_devices(self) -> None:
        assert parse_blkio_bytes(V1_BLKIO) == (4097, 8194)
        assert parse_blkio_bytes("Total 0\n") == (0, 0)

    def test_io_stat_sums_over_devices(self) -> None:
        assert parse_io_stat(V2_IO_STAT) == (4097, 8194)
        assert parse_io_stat("") == (0, 0)


def write_files(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


class TestCgroupSource:
    def test_v1_directories(self, tmp_path: Path) -> None:
        memory = write_files(tmp_path / "memory", {
            "memory.usage_in_bytes": "5000000\n", "memory.stat": V1_MEMORY_STAT,
        })  # fmt: skip
        cpu = write_files(tmp_path / "cpuacct", {"cpuacct.usage": "2500000000\n"})
        io = write_files(tmp_path / "blkio", {"blkio.throttle.io_service_bytes": V1_BLKIO})
        dirs = CgroupDirs(CgroupDir(memory, 1), CgroupDir(cpu, 1), CgroupDir(io, 1))
        assert CgroupSource(dirs).read() == {
            "mem_bytes": 5000000, "anon_bytes": 198304, "file_bytes": 3215936,
            "cpu_s": 2.5, "read_bytes": 4097, "write_bytes": 8194,
        }  # fmt: skip

    def test_a_v2_directory(self, tmp_path: Path) -> None:
        d = write_files(tmp_path / "scope", {
            "memory.current": "7000\n", "memory.stat": V2_MEMORY_STAT,
            "cpu.stat": V2_CPU_STAT, "io.stat": V2_IO_STAT,
        })  # fmt: skip
        v2 = CgroupDir(d, 2)
        values = CgroupSource(CgroupDirs(v2, v2, v2)).read()
        assert values["mem_bytes"] == 7000 and values["anon_bytes"] == 4096000
        assert values["cpu_s"] == pytest.approx(0.034121)
        assert (values["read_bytes"], values["write_bytes"]) == (4097, 8194)

    def test_block_counters_appear_once_they_move(self, tmp_path: Path) -> None:
        d = write_files(tmp_path / "scope", {"cpu.stat": V2_CPU_STAT, "io.stat": ""})
        v2 = CgroupDir(d, 2)
        source = CgroupSource(CgroupDirs(None, v2, v2))
        assert "read_bytes" not in source.read()
        (d / "io.stat").write_text(V2_IO_STAT)
        assert source.read()["read_bytes"] == 4097
        (d / "io.stat").write_text("")  # once seen, always reported
        assert source.read()["read_bytes"] == 0

    def test_parts_without_their_file_are_left_out(self, tmp_path: Path) -> None:
        d = write_files(tmp_path / "scope", {"cpu.stat": V2_CPU_STAT})  # no memory, no io
        v2 = CgroupDir(d, 2)
        assert usable(CgroupDirs(v2, v2, v2)) == CgroupDirs(None, v2, None)
        assert set(CgroupSource(CgroupDirs(v2, v2, v2)).read()) == {"cpu_s"}

    def test_nothing_to_read_is_an_error(self, tmp_path: Path) -> None:
        empty = CgroupDir(tmp_path, 2)
        with pytest.raises(PlatformError, match="no cgroup"):
            CgroupSource(CgroupDirs(empty, empty, empty))


# --- /proc files and the process ledger -----------------------------------------------------


def stat_line(pid: int, ppid: int, utime: int, stime: int, cutime: int = 0,
              cstime: int = 0, start: int = 1000, rss_pages: int = 10,
              comm: str = "sh") -> str:  # fmt: skip
    fields = ["S", ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, cutime,
              cstime, 20, 0, 1, 0, start, 1000000, rss_pages]  # fmt: skip
    return f"{pid} ({comm}) " + " ".join(str(f) for f in fields) + " 0 0 0\n"


def proc_stat(ppid: int, own: float, children: float = 0.0) -> ProcStat:
    return ProcStat(ppid, 1, own, 0.0, children, 0)


class TestProcFiles:
    def test_stat_with_a_tricky_command_name(self) -> None:
        text = stat_line(42, 7, utime=250, stime=50, cutime=100, cstime=0, comm="a) (b")
        got = parse_stat(text, clk_tck=100, page_size=4096)
        assert got == ProcStat(ppid=7, start_ticks=1000, user_s=2.5, system_s=0.5,
                               children_s=1.0, rss_bytes=40960, state="S", pgrp=42)  # fmt: skip
        assert got.own_s == 3.0

    def test_io(self) -> None:
        text = "rchar: 10\nwchar: 20\nsyscr: 1\nread_bytes: 4096\nwrite_bytes: 8192\n"
        assert parse_io(text)["read_bytes"] == 4096
        assert parse_io(text)["write_bytes"] == 8192

    def test_smaps_rollup_in_bytes(self) -> None:
        text = (
            "7f0000000000-7fffffffffff ---p 00000000 00:00 0    [rollup]\n"
            "Rss:              262144 kB\nPss:              131072 kB\n"
            "Private_Clean:        16 kB\nPrivate_Dirty:     65536 kB\n"
        )
        got = parse_smaps_rollup(text)
        assert got["Rss"] == 262144 * 1024 and got["Pss"] == 131072 * 1024
        assert got["Private_Dirty"] == 65536 * 1024

    def test_host_busy_time_leaves_idle_and_guest_time_out(self) -> None:
        times = collections.namedtuple(
            "times", "user nice system idle iowait irq softirq steal guest guest_nice"
        )
        assert busy_s(times(10, 1, 5, 100, 3, 1, 1, 7, 4, 1)) == 18.0


class TestCpuLedger:
    def test_live_processes_are_summed_with_their_children(self) -> None:
        ledger = CpuLedger()
        assert ledger.update({(1, 1): proc_stat(0, 1.0, 0.5), (2, 1): proc_stat(1, 2.0)}) == 3.5

    def test_a_process_reaped_outside_keeps_its_last_reading(self) -> None:
        ledger = CpuLedger()
        ledger.update({(1, 1): proc_stat(0, 1.0), (5, 1): proc_stat(99, 4.0)})
        assert ledger.update({(1, 1): proc_stat(0, 1.5)}) == 5.5

    def test_a_child_reaped_by_a_parent_in_the_set_is_counted_once(self) -> None:
        ledger = CpuLedger()
        ledger.update({(1, 1): proc_stat(0, 1.0), (2, 1): proc_stat(1, 2.0)})
        # gone but not reaped yet: held, not dropped
        assert ledger.update({(1, 1): proc_stat(0, 1.0)}) == 3.0
        # reaped: now in the parent's children time, and not in the departed sum too
        assert ledger.update({(1, 1): proc_stat(0, 1.0, 2.1)}) == pytest.approx(3.1)

    def test_a_reused_pid_is_another_process(self) -> None:
        ledger = CpuLedger()
        ledger.update({(5, 100): proc_stat(99, 4.0)})
        assert ledger.update({(5, 200): proc_stat(99, 0.5)}) == 4.5


def fake_proc(root: Path, processes: dict[int, tuple[str, bytes]]) -> Path:
    """A fake /proc: pid -> (stat text, environ bytes)."""
    for pid, (stat, environ) in processes.items():
        write_files(root / str(pid), {"stat": stat})
        (root / str(pid) / "environ").write_bytes(environ)
    (root / "self").mkdir(exist_ok=True)  # not a pid: must be skipped
    return root


class TestProcessSets:
    def test_tagged_processes_are_found_by_their_environment(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, {
            10: (stat_line(10, 1, 100, 0), b"PATH=/bin\0VCBENCH_INSTANCE=vcbench-x\0"),
            11: (stat_line(11, 10, 300, 100), b"VCBENCH_INSTANCE=vcbench-x\0HOME=/\0"),
            12: (stat_line(12, 1, 900, 0), b"VCBENCH_INSTANCE=vcbench-xy\0"),
        })  # fmt: skip
        pids = TaggedPids("VCBENCH_INSTANCE", "vcbench-x", proc)
        assert sorted(pids()) == [10, 11]
        cpu, rss = ProcessSet(pids, proc).read()
        assert cpu == pytest.approx(500 / CLK_TCK)
        assert rss > 0

    def test_a_process_gone_between_listing_and_reading_is_skipped(self, tmp_path: Path) -> None:
        proc = fake_proc(tmp_path, {10: (stat_line(10, 1, 100, 0), b"")})
        cpu, _ = ProcessSet(lambda: [10, 404], proc).read()
        assert cpu == pytest.approx(100 / CLK_TCK)


# --- QEMU and libvirt -----------------------------------------------------------------------

QEMU_CMDLINE = [
    "/usr/bin/qemu-system-x86_64",
    "-name",
    "guest=vcbench-r1-libvirt-1,debug-threads=on",
]


class TestQemu:
    def test_the_command_line_names_the_guest(self) -> None:
        assert is_qemu_of(QEMU_CMDLINE, "vcbench-r1-libvirt-1")
        assert not is_qemu_of(QEMU_CMDLINE, "vcbench-r1-libvirt")  # a prefix is not the name
        assert not is_qemu_of(["/bin/grep", "guest=vcbench-r1-libvirt-1"], "vcbench-r1-libvirt-1")

    def test_the_pid_file_is_believed_when_the_process_matches(self, tmp_path: Path) -> None:
        pid_dir = write_files(tmp_path / "run", {"vcbench-r1-libvirt-1.pid": "4242\n"})
        proc = tmp_path / "proc"
        (proc / "4242").mkdir(parents=True)
        (proc / "4242" / "cmdline").write_bytes("\0".join(QEMU_CMDLINE).encode() + b"\0")
        assert qemu_pid("vcbench-r1-libvirt-1", pid_dir, proc) == 4242

    def test_the_process_figures_with_pss_once_a_period(self, tmp_path: Path) -> None:
        proc = write_files(tmp_path / "4242", {
            "stat": stat_line(4242, 1, 300, 100, rss_pages=1000, start=555),
            "io": "rchar: 1\nread_bytes: 4096\nwrite_bytes: 512\ncancelled_write_bytes: 0\n",
            "smaps_rollup": "Rss: 4000 kB\nPss: 3000 kB\nPrivate_Clean: 100 kB\n"
                            "Private_Dirty: 2000 kB\n",
        }).parent  # fmt: skip
        now = [0.0]
        source = QemuSource(4242, proc, rollup_period_s=1.0, clock=lambda: now[0])
        first = source.read()
        assert first["cpu_s"] == pytest.approx(400 / CLK_TCK)
        assert first["rss_bytes"] == 1000 * PAGE_SIZE
        assert (first["pss_bytes"], first["uss_bytes"]) == (3000 * 1024, 2100 * 1024)
        assert (first["read_bytes"], first["write_bytes"]) == (4096, 512)
        now[0] = 0.5
        assert "pss_bytes" not in source.read()
        now[0] = 1.0
        assert "pss_bytes" in source.read()

    def test_a_reused_pid_fails_the_source(self, tmp_path: Path) -> None:
        proc = write_files(tmp_path / "4242", {"stat": stat_line(4242, 1, 1, 1, start=555)})
        source = QemuSource(4242, proc.parent)
        (proc / "stat").write_text(stat_line(4242, 1, 1, 1, start=999))
        with pytest.raises(PlatformError, match="ended"):
            source.read()

    def test_no_process_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(PlatformError, match="no QEMU process"):
            qemu_pid("vcbench-nosuch-libvirt-1", tmp_path, tmp_path)


DOMAIN_STATS = {
    "cpu.time": 3_000_000_000,
    "cpu.user": 1_000_000_000,
    "balloon.current": 393216,
    "balloon.maximum": 393216,
    "balloon.rss": 200000,
    "balloon.unused": 300000,
    "balloon.available": 350000,
    "vcpu.current": 2,
    "vcpu.maximum": 2,
    "vcpu.0.state": 1,
    "vcpu.0.time": 1_500_000_000,
    "vcpu.0.delay": 100_000_000,
    "vcpu.1.time": 500_000_000,
    "block.count": 2,
    "block.0.name": "sda",
    "block.0.rd.bytes": 1,
    "block.1.name": "vda",
    "block.1.rd.bytes": 4096,
    "block.1.wr.bytes": 8192,
}


class TestDomainStats:
    def test_fields_in_seconds_and_bytes(self) -> None:
        assert parse_domain_stats(DOMAIN_STATS) == {
            "cpu_s": 3.0, "vcpu_s": 2.0, "vcpu_delay_s": 0.1,
            "actual_bytes": 393216 * 1024, "rss_bytes": 200000 * 1024,
            "unused_bytes": 300000 * 1024, "available_bytes": 350000 * 1024,
            "disk_read_bytes": 4096, "disk_write_bytes": 8192,
        }  # fmt: skip

    def test_what_libvirt_leaves_out_is_left_out(self) -> None:
        assert parse_domain_stats({"balloon.current": 1, "block.count": 0}) == {
            "actual_bytes": 1024
        }


class FakeConnection:
    """A fake libvirt connection: records the stats groups asked for, answers DOMAIN_STATS."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def domainListGetStats(
        self, domains: list[object], stats: int, flags: int
    ) -> list[tuple[object, dict[str, object]]]:
        self.asked.append(stats)
        return [(domains[0], dict(DOMAIN_STATS))]


class FakeDomain:
    """A fake virDomain: only its connection is used."""

    def __init__(self) -> None:
        self.conn = FakeConnection()

    def connect(self) -> FakeConnection:
        return self.conn


def test_the_qmp_groups_are_asked_for_once_a_period() -> None:
    import libvirt

    now = [100.0]
    domain = FakeDomain()
    source = DomainSource(domain, qmp_period_s=1.0, clock=lambda: now[0])
    qmp = libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK
    for t in (100.0, 100.1, 100.9, 101.0, 101.5, 102.2):
        now[0] = t
        source.read()
    assert [bool(asked & qmp) for asked in domain.conn.asked] == [
        True, False, False, True, False, True
    ]  # fmt: skip
    assert all(asked & libvirt.VIR_DOMAIN_STATS_VCPU for asked in domain.conn.asked)


# --- wiring ---------------------------------------------------------------------------------


def test_every_source_describes_its_fields() -> None:
    from bench.collectors.cgroup_source import ProcessSource

    for cls in (HostSource, CgroupSource, ProcessSource, QemuSource, DomainSource):
        assert cls.fields, cls
        for name, described in cls.fields.items():
            # the name says the unit: *_s seconds, *_bytes bytes
            assert described.unit == ("s" if name.endswith("_s") else "B"), (cls, name)
            assert name.endswith(("_s", "_bytes")), (cls, name)
            assert described.doc, (cls, name)


def test_the_host_source_reads_this_host() -> None:
    values = HostSource().read()
    assert values["cpu_s"] > 0 and values["mem_available_bytes"] > 0
    assert set(values) <= set(HostSource.fields)


def test_sources_for_an_unknown_instance_is_the_host_only() -> None:
    from bench.platforms.protocol import ExecResult, Instance, Limits

    class OtherInstance(Instance):
        platform = "other"

        def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
            raise NotImplementedError

    instance = OtherInstance("x", Limits(1, 256, (0,)), Path("/dev/null"))
    assert [s.name for s in sources_for(instance)] == ["host"]
