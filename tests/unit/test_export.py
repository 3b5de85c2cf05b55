"""Exports: pure serializers (bytes out), and the command that puts them on stdout or a file."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli.compare import export_command
from bench.core.errors import BenchError
from bench.data.results import Event, RunWriter, load_run
from bench.report.export import FORMATS, MARKDOWN_HEADER, TCG_CAVEAT, serialize
from tests.unit.test_compare import NATIVE_DOCKER_RUN, TCG_RUN, make_run


def test_csv_has_a_row_per_sample_with_every_column() -> None:
    run = load_run(TCG_RUN)
    rows = list(csv.DictReader(io.StringIO(serialize(run, "csv").decode())))
    assert len(rows) == len(run.samples)
    assert set(rows[0]) >= {"trial_id", "metric", "value", "origin", "warmup", "accel"}
    assert float(rows[0]["value"]) == run.samples[0].value


def test_ndjson_is_one_object_per_sample() -> None:
    run = load_run(NATIVE_DOCKER_RUN)
    lines = serialize(run, "ndjson").decode().splitlines()
    assert len(lines) == len(run.samples)
    first = json.loads(lines[0])
    assert first["trial_id"] == run.samples[0].trial_id and first["value"] == run.samples[0].value


def test_ndjson_writes_null_for_values_json_cannot_hold(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path, "r", {("cpu-sysbench", "events_per_s", "native"): [1.0]}))
    broken = dataclasses.replace(
        run, samples=tuple(dataclasses.replace(s, value=float("nan")) for s in run.samples)
    )
    lines = serialize(broken, "ndjson").decode().splitlines()
    assert len(lines) == len(broken.samples) > 0  # a NaN sample is written, not dropped
    assert [json.loads(line)["value"] for line in lines] == [None] * len(lines)


def test_markdown_of_the_tcg_fixture_has_tables_and_the_caveat() -> None:
    text = serialize(load_run(TCG_RUN), "markdown").decode()
    assert text.startswith("## vcbench run 20261123-201342-6f5536\n")
    assert "host **vm** · accel **tcg**" in text
    assert TCG_CAVEAT in text
    assert text.count(MARKDOWN_HEADER) == 4  # one table per workload
    assert "### cpu-sysbench" in text
    assert "| events_per_s (events/s, higher is better) | native | 2 | 1697 [" in text
    assert "- **few-repeats** cpu-sysbench/events_per_s/native" in text
    assert "- **emulated** run" in text


def test_markdown_without_vms_has_no_caveat_and_lists_run_events(tmp_path: Path) -> None:
    directory = make_run(
        tmp_path,
        "r",
        {("cpu-sysbench", "events_per_s", "native"): [1.0, 1.0, 1.0, 1.0, 1.0]},
        accel="none",
    )
    RunWriter.reopen(directory).event(
        Event("warning", "busy host: 3 containers running", "stop them", data={"code": "busy-host"})
    )
    text = serialize(load_run(directory), "markdown").decode()
    assert "Caveat" not in text
    assert "- **busy-host** run: the host was busy: 3 containers running" in text


def test_unknown_format_is_a_bench_error() -> None:
    with pytest.raises(BenchError, match="unknown export format 'xml'"):
        serialize(load_run(NATIVE_DOCKER_RUN), "xml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_command_stdout_and_file(fmt: str, tmp_path: Path) -> None:
    run = load_run(NATIVE_DOCKER_RUN)
    expected = serialize(run, fmt)
    runner = CliRunner()
    shown = runner.invoke(export_command, [str(NATIVE_DOCKER_RUN), "--format", fmt])
    assert shown.exit_code == 0 and shown.stdout_bytes == expected
    out = tmp_path / f"run.{fmt}"
    written = runner.invoke(
        export_command, [str(NATIVE_DOCKER_RUN), "--format", fmt, "-o", str(out)]
    )
    assert written.exit_code == 0 and out.read_bytes() == expected


def test_export_command_resolves_an_id_prefix(tmp_path: Path) -> None:
    make_run(
        tmp_path, "20260101-000000-aaaaaa", {("cpu-sysbench", "events_per_s", "native"): [1.0]}
    )
    result = CliRunner().invoke(
        export_command, ["20260101", "--format", "csv"], env={"VCBENCH_RESULTS": str(tmp_path)}
    )
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0].startswith("trial_id,")
    assert len(lines) == 1 + 4  # the header, then (measured + warm-up) x (workload + collector)


def test_export_names_what_the_reader_skipped_on_stderr_and_keeps_stdout_clean(
    tmp_path: Path,
) -> None:
    directory = make_run(
        tmp_path, "20260101-000000-aaaaaa", {("cpu-sysbench", "events_per_s", "native"): [1.0]}
    )
    with (directory / "samples.jsonl").open("a") as samples:
        samples.write('{"trial_id": "torn')  # a crash mid-write
    result = CliRunner().invoke(export_command, [str(directory), "--format", "csv"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1 + 4
    assert result.stderr == (
        "warning: 20260101-000000-aaaaaa: samples.jsonl line 5 is corrupt (a crash mid-write?)"
        " and was skipped\n"
    )
