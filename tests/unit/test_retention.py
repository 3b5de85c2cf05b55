"""vcbench prune: which runs lose their bulky files, what stays, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bench.cli.prune import prune_command
from bench.data.results import RUN_FILE, SCHEMA_VERSION, load_run
from bench.data.retention import BULKY, DAY_S, PRUNED, StoredRun, find_runs, prune, to_prune

NOW = 1_800_000_000.0
KEPT = ("trials.jsonl", "samples.jsonl", "events.jsonl", "experiments.jsonl")


def stored(directory: Path, age_days: float, *, schema: int = SCHEMA_VERSION) -> Path:
    directory.mkdir(parents=True)
    meta = {"schema_version": schema, "run_id": directory.name, "created": NOW - age_days * DAY_S}
    (directory / RUN_FILE).write_text(json.dumps(meta))
    for name in KEPT:
        (directory / name).write_text("")
    (directory / "events.jsonl").write_text('{"kind": "finished", "message": "", "advice": ""}\n')
    (directory / "timeseries.jsonl").write_text("x" * 1000)
    for folder in ("raw", "logs"):
        (directory / folder).mkdir()
        (directory / folder / "a.out").write_text("y" * 500)
    return directory


def test_only_runs_older_than_the_window_are_chosen_oldest_first() -> None:
    runs = [StoredRun(Path(n), NOW - age * DAY_S) for n, age in (("a", 1), ("b", 40), ("c", 31))]
    assert [r.directory.name for r in to_prune(runs, 30, NOW)] == ["b", "c"]
    assert to_prune(runs, 40, NOW) == []  # exactly at the edge stays
    assert len(to_prune(runs, 0, NOW)) == 3


def test_runs_are_found_at_depth_one_and_two_and_an_unreadable_one_is_named(
    tmp_path: Path,
) -> None:
    stored(tmp_path / "flat" / "r1", 1)
    stored(tmp_path / "hosts" / "h1" / "r2", 2)
    stored(tmp_path / "hosts" / "h2" / "r3", 3, schema=99)
    (tmp_path / "hosts" / "h2" / "scratch").mkdir()
    live = stored(tmp_path / "hosts" / "h2" / "r4", 4)
    with (live / "events.jsonl").open("a") as events:  # interrupted once, measuring again now
        events.write('{"kind": "interrupted"}\n{"kind": "resumed"}\n')
    runs, problems = find_runs([tmp_path / "flat", tmp_path / "hosts"])
    assert sorted(r.directory.name for r in runs) == ["r1", "r2"]
    assert len(problems) == 2 and "r3" in problems[0] and "newer" in problems[0]
    assert "r4: has not finished or been interrupted; left alone" in problems[1]


def test_prune_removes_only_the_bulky_files_and_the_run_still_loads(tmp_path: Path) -> None:
    directory = stored(tmp_path / "r", 50)
    done = prune(StoredRun(directory, NOW - 50 * DAY_S), NOW, 30)
    assert done.freed_bytes == 1000 + 2 * 500
    assert not any((directory / name).exists() for name in BULKY)
    assert all((directory / name).exists() for name in (RUN_FILE, *KEPT))
    record = json.loads((directory / PRUNED).read_text())
    assert record["removed"] == list(BULKY) and record["keep_days"] == 30
    assert load_run(directory).run_id == "r"
    # a second prune finds nothing to remove and keeps the first record
    assert prune(StoredRun(directory, NOW - 50 * DAY_S), NOW + 1, 30).freed_bytes == 0
    assert json.loads((directory / PRUNED).read_text())["at"] == NOW


def test_the_command_prunes_old_runs_keeps_young_ones_and_dry_run_removes_nothing(
    tmp_path: Path,
) -> None:
    old = stored(tmp_path / "h" / "20200101-000000-aaaaaa", 10_000)
    young = stored(tmp_path / "h" / "20990101-000000-bbbbbb", -1)
    dry = CliRunner().invoke(prune_command, [str(tmp_path), "--keep-raw-days", "30", "--dry-run"])
    assert dry.exit_code == 0 and "would prune" in dry.stdout and old.name in dry.stdout
    assert (old / "raw").exists()
    done = CliRunner().invoke(prune_command, [str(tmp_path), "--keep-raw-days", "30"])
    assert done.exit_code == 0 and done.stdout == f"pruned {old}: 2 KiB\n"
    assert not (old / "raw").exists() and (young / "raw").exists()
    assert "in 2 run(s) looked at" in done.stderr
