"""A run's results directory: versioned, append-only, readable after any crash.

results/<run-id>/
  run.json          schema version, the plan and the environment fingerprint; written once,
                    before the first trial
  trials.jsonl      one line per finished trial (ok or failed, with its error and cause):
                    the commit record of a trial, written after its samples
  samples.jsonl     one frozen Sample per measured value
  timeseries.jsonl  collector readings, per trial
  events.jsonl      warnings and run events (dropped platform, interrupted, finished)
  experiments.jsonl one ExperimentRecord per value the claim experiments measured
  raw/              each trial's tool output; logs/ each instance's console or stream

Every line is written in one call and fsynced, so a crash leaves at most a torn last line,
which the reader skips with a warning; samples whose trial has no commit record are
ignored, and `--resume` runs that trial again.

Just over 400 lines: the schema, its writer and its reader change together, under one
SCHEMA_VERSION.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.core.errors import BenchError, ResultsFull
from bench.data.run_meta import RunMeta, parse_meta, run_accels

# 2: the fingerprint's accel is the accel the run used (1: what detection found, which a
# forced --accel overrode); run.json records the gate policy. Both are still read.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RUN_FILE = "run.json"
TRIALS = "trials.jsonl"
SAMPLES = "samples.jsonl"
TIMESERIES = "timeseries.jsonl"
EVENTS = "events.jsonl"
EXPERIMENTS = "experiments.jsonl"
Status = Literal["ok", "failed"]


class ResultsError(BenchError):
    """A results directory that cannot be written or read as asked."""


@dataclass(frozen=True)
class TrialKey:
    """Where a trial sits in the schedule: the unit of resume."""

    round: int
    workload: str
    platform: str
    warmup_index: int | None = None  # None: the measured trial; 0..: its warm-ups

    @property
    def warmup(self) -> bool:
        return self.warmup_index is not None

    @property
    def id(self) -> str:
        suffix = "" if self.warmup_index is None else f"-w{self.warmup_index}"
        return f"r{self.round}-{self.workload}-{self.platform}{suffix}"


@dataclass(frozen=True)
class Trial:
    trial_id: str
    round: int
    workload: str
    workload_hash: str
    platform: str
    warmup: bool
    status: Status
    started: float  # unix seconds
    ended: float
    instance: str
    accel: str
    error: str = ""
    # short class: exit-code, timeout, oom, parse, instance-lost, start-failed, daemon-lost
    # (and server, host-tool, collector, cold-cache for what a trial needs around it)
    cause: str = ""
    raw: tuple[str, ...] = ()  # paths relative to the run dir: the output behind the figures
    profile: str = ""  # the VM profile (default, tuned, emulated) on VM trials; "" elsewhere


@dataclass(frozen=True)
class Sample:
    trial_id: str
    round: int
    workload: str
    workload_hash: str
    platform: str
    warmup: bool
    metric: str
    value: float
    unit: str
    higher_is_better: bool
    started: float
    ended: float
    instance: str
    accel: str
    origin: Literal["workload", "collector"] = "workload"
    status: Status = "ok"
    profile: str = ""  # the trial's VM profile; "" off the VM platform and in older runs

    @classmethod
    def of(cls, trial: Trial, metric: str, value: float, unit: str, higher_is_better: bool,
           origin: Literal["workload", "collector"] = "workload") -> Sample:  # fmt: skip
        """A value of a finished trial, carrying the trial's identity for tables."""
        return cls(trial.trial_id, trial.round, trial.workload, trial.workload_hash,
                   trial.platform, trial.warmup, metric, value, unit, higher_is_better,
                   trial.started, trial.ended, trial.instance, trial.accel, origin,
                   profile=trial.profile)  # fmt: skip


@dataclass(frozen=True)
class Event:
    kind: str  # "warning", "dropped-platform", "interrupted", "finished", "resumed"
    message: str
    advice: str = ""
    at: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentRecord:
    """One value a claim experiment measured (density, elasticity, isolation, sizes...).

    The claims (bench/analysis/claims/) read these and the suite's samples; nothing else does.
    A value that is text (a kernel release) goes in `text` with `value` None.
    """

    experiment: str  # "kernel", "visibility", "image-size", "disk-per-instance", "memory",
    # "density", "elasticity", "isolation"
    platform: str  # native, docker, libvirt (or a VM profile variant such as libvirt-emulated)
    metric: str
    value: float | None
    unit: str
    repeat: int = 0  # repeat index, or the instance index in a density ramp
    text: str = ""
    accel: str = ""
    at: float = 0.0  # unix seconds
    detail: Mapping[str, Any] = field(default_factory=dict)  # limits set, stop reasons...


def _line(record: object) -> bytes:
    data = record if isinstance(record, dict) else dataclasses.asdict(record)  # type: ignore[call-overload]
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


class RunWriter:
    """Appends to one run directory; refuses to create over an existing run."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @classmethod
    def create(cls, directory: Path, meta: Mapping[str, Any]) -> RunWriter:
        if directory.exists() and (directory / RUN_FILE).exists():
            raise ResultsError(f"{directory} holds a run already", "results are never overwritten")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "raw").mkdir(exist_ok=True)
            (directory / "logs").mkdir(exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ResultsError(
                f"{directory.parent} is a file, not a directory",
                "point VCBENCH_RESULTS or --results at a directory",
            ) from None
        except PermissionError:
            raise ResultsError(
                f"cannot write to {directory.parent}", "choose a writable --results directory"
            ) from None
        writer = cls(directory)
        body = {"schema_version": SCHEMA_VERSION, **meta}
        with no_space_is_full(directory / RUN_FILE), open(directory / RUN_FILE, "x") as out:
            out.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return writer

    @classmethod
    def reopen(cls, directory: Path) -> RunWriter:
        read_meta(directory)  # refuses what it cannot read before anything is appended
        for name in (TRIALS, SAMPLES, TIMESERIES, EVENTS, EXPERIMENTS):
            _drop_torn_tail(directory / name)
        return cls(directory)

    def _append(self, name: str, records: Sequence[object]) -> None:
        if not records:
            return
        data = b"".join(_line(r) for r in records)
        with no_space_is_full(self.dir / name):
            fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                _append_whole(fd, data)
            finally:
                os.close(fd)

    def record_trial(
        self, trial: Trial, samples: Sequence[Sample], series: Sequence[object]
    ) -> None:
        """Samples and series first, then the trial line that makes them count."""
        self._append(TIMESERIES, series)
        self._append(SAMPLES, list(samples))
        self._append(TRIALS, [trial])

    def event(self, event: Event) -> None:
        self._append(EVENTS, [event])

    def record_experiment(self, records: Sequence[ExperimentRecord]) -> None:
        self._append(EXPERIMENTS, list(records))


def _drop_torn_tail(path: Path) -> None:
    """A crash mid-write left a last line without its newline: cut it off, or the next line
    appended would be glued to it and lost with it. Its trial never committed, so --resume
    runs that trial again."""
    try:
        with path.open("rb+") as file:
            data = file.read()
            if data and not data.endswith(b"\n"):
                file.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return


def _append_whole(fd: int, data: bytes) -> None:
    """All of data, or nothing: a write cut short (a full disk) is taken back, so the file
    never ends in a torn line and everything written before stays readable."""
    size = os.fstat(fd).st_size
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except OSError:
        os.ftruncate(fd, size)
        raise


@contextlib.contextmanager
def no_space_is_full(path: Path) -> Iterator[None]:
    """A full file system under the results is ResultsFull, naming the path and its space."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        try:
            free = f"{shutil.disk_usage(path.parent).free // 1024} KiB free"
        except OSError:
            free = "free space unknown"
        raise ResultsFull(
            f"no space left for {path} ({free})",
            "free some space or choose another --results, then `vcbench run --resume RUN`",
        ) from None


def read_meta(directory: Path) -> dict[str, Any]:
    path = directory / RUN_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(
            f"{directory}: no {RUN_FILE}: not a vcbench run directory",
            "give a results/<run-id> directory",
        ) from None
    except (ValueError, OSError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc})") from None
    check_version(meta.get("schema_version"), path)
    return meta


def check_version(version: object, where: Path) -> None:
    if version in READABLE_VERSIONS:
        return
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: results schema version {version} is newer than this vcbench reads"
            f" ({SCHEMA_VERSION})",
            "upgrade vcbench to read it",
        )
    raise ResultsError(
        f"{where}: results schema version {version!r} is not one this vcbench reads"
        f" ({SCHEMA_VERSION})",
        "re-run the benchmark, or read it with the vcbench version that wrote it",
    )


def read_lines(path: Path, warnings: list[str]) -> Iterator[dict[str, Any]]:
    """Each JSON line; a torn or corrupt line is skipped with a warning, never fatal."""
    if not path.exists():
        return
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            try:
                yield json.loads(raw)
            except ValueError:
                warnings.append(
                    f"{path.name} line {number} is corrupt (a crash mid-write?) and was skipped"
                )


def stops_and_starts(directory: Path) -> list[str]:
    """The kinds of the run's start/stop events in order ("finished", "interrupted",
    "resumed"), read without loading the samples."""
    kinds = (row.get("kind") for row in read_lines(directory / EVENTS, []))
    return [str(k) for k in kinds if k in ("finished", "interrupted", "resumed")]


@dataclass(frozen=True)
class RunData:
    directory: Path
    meta: dict[str, Any]
    trials: tuple[Trial, ...]
    samples: tuple[Sample, ...]
    events: tuple[Event, ...]
    warnings: tuple[str, ...]  # what the reader had to skip
    experiments: tuple[ExperimentRecord, ...] = ()

    @functools.cached_property
    def run_meta(self) -> RunMeta:
        """run.json parsed once (load_run builds it, so a bad run.json fails at load)."""
        return parse_meta(self.meta, self.directory.name, run_accels(self.trials, self.experiments))

    @property
    def run_id(self) -> str:
        return self.run_meta.run_id

    def done(self) -> set[str]:
        return {t.trial_id for t in self.trials}


def _build(cls: type[Any], row: dict[str, Any], warnings: list[str], what: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        row = {k: v for k, v in row.items() if k in names}
        if "raw" in row:
            row["raw"] = tuple(row["raw"])
        return cls(**row)
    except TypeError:
        warnings.append(f"a {what} line lacks fields and was skipped")
        return None


def load_run(directory: Path) -> RunData:
    meta = read_meta(directory)
    warnings: list[str] = []
    trials = [_build(Trial, r, warnings, "trial") for r in read_lines(directory / TRIALS, warnings)]
    kept = [t for t in trials if t is not None]
    committed = {t.trial_id for t in kept}
    samples = []
    orphans = 0
    for row in read_lines(directory / SAMPLES, warnings):
        sample = _build(Sample, row, warnings, "sample")
        if sample is None:
            continue
        if sample.trial_id in committed:
            samples.append(sample)
        else:
            orphans += 1
    if orphans:
        warnings.append(
            f"{orphans} sample(s) of an unfinished trial ignored (it runs again on --resume)"
        )
    events = [_build(Event, r, warnings, "event") for r in read_lines(directory / EVENTS, warnings)]
    experiments = [
        _build(ExperimentRecord, r, warnings, "experiment")
        for r in read_lines(directory / EXPERIMENTS, warnings)
    ]
    run = RunData(
        directory,
        meta,
        tuple(kept),
        tuple(samples),
        tuple(e for e in events if e is not None),
        tuple(warnings),
        tuple(e for e in experiments if e is not None),
    )
    run.run_meta  # noqa: B018  parsed at load, once
    return run


SAMPLE_COLUMNS = tuple(f.name for f in dataclasses.fields(Sample))


def samples_frame(run: RunData) -> Any:
    """Every sample as a pandas DataFrame; `run_meta.measured_frame` holds those that count."""
    import pandas as pd

    # vars(), not dataclasses.asdict: asdict deep-copies every field, 20x slower at 100k rows
    return pd.DataFrame([vars(s) for s in run.samples], columns=list(SAMPLE_COLUMNS))


def find_run(ref: str, root: Path) -> Path:
    """A run by id, unique id prefix, or path."""
    as_path = Path(ref)
    if (as_path / RUN_FILE).exists():
        return as_path
    if not root.is_dir():
        raise ResultsError(f"no results directory {root}", "run `vcbench run` first")
    matches = sorted(
        p for p in root.iterdir() if p.name.startswith(ref) and (p / RUN_FILE).exists()
    )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ResultsError(f"no run {ref!r} under {root}", "`vcbench runs` lists them")
    raise ResultsError(f"{ref!r} matches {len(matches)} runs under {root}", "give more of the id")
