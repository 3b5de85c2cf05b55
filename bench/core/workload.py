"""Workloads and suites are data (workloads/*.toml): loaded, validated, frozen, hashed.

Validation happens before anything starts, and every failure is one line naming the file,
the key and what was expected. A workload's hash covers what defines its samples (command,
parser, duration, metrics...), not how often it runs, so a changed definition never mixes
silently with older samples while a different --repeats does not split history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import string
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.core import paths
from bench.core.errors import BenchError
from bench.core.parsers import PARSERS

PlatformName = Literal["native", "docker", "podman", "gvisor", "libvirt"]
ALL_PLATFORMS: tuple[PlatformName, ...] = ("native", "docker", "podman", "gvisor", "libvirt")
# What `vcbench run` measures without --platforms: the three every host setup provides. gVisor
# and Podman are asked for by name, so a host without them still runs the default unchanged.
DEFAULT_RUN_PLATFORMS: tuple[PlatformName, ...] = ("native", "docker", "libvirt")
Kind = Literal["command", "startup", "idle"]
# What a command template may say; the runner fills these in per trial.
PLACEHOLDERS = frozenset({"vcpus", "memory_mib", "duration", "address", "port", "file_size_mib"})
# Metrics the runner itself measures for the kinds that have no tool output.
STARTUP_METRICS = ("startup_s", "create_to_running_s", "running_to_ready_s")
GUEST_PHASE_METRICS = ("guest_kernel_s", "guest_initramfs_s", "guest_init_s", "host_to_guest_s")
IDLE_METRICS = ("memory_mib", "memory_peak_mib", "cpu_pct")  # bench/run/idle_footprint.py
# The runner's own clock around every command trial, recorded beside the declared metrics.
WALL_METRIC = "wall_s"
MAX_TEXT = 4096
MAX_FILE_BYTES = 256 * 1024
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


class WorkloadFileError(BenchError):
    """A workload or suite file that cannot be used; nothing has started."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Metric(Strict):
    unit: Text
    higher_is_better: bool
    # The smallest relative change worth calling a difference (overrides the default 3%).
    min_effect: Annotated[float, Field(gt=0, lt=1)] | None = None


# wall_s's declaration, the runner's own: seconds, less is better.
WALL = Metric(unit="s", higher_is_better=False)


class Workload(Strict):
    name: Name
    description: Text
    kind: Kind = "command"
    # Runs in the instance, or on the host against the instance (network clients).
    runs_on: Literal["instance", "host"] = "instance"
    command: tuple[Text, ...] = ()
    # Started in the background inside the instance before the command; the runner waits
    # until it listens on `port`, and stops it afterwards.
    server: tuple[Text, ...] = ()
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    # Untimed steps around the server, for applications that need them: `setup` runs in the
    # instance before the server starts (write a config, initialise a data directory);
    # `prepare` runs where the command runs once the server listens (load the data set).
    # Either failing fails the trial with its cause ("setup", "prepare"), never a figure.
    setup: tuple[Text, ...] = ()
    prepare: tuple[Text, ...] = ()
    parser: str | None = None
    duration: Annotated[int, Field(ge=1, le=3600)] = 10
    warmup: Annotated[int, Field(ge=0, le=100)] = 1
    repeats: Annotated[int, Field(ge=1, le=1000)] = 5
    timeout: Annotated[float, Field(gt=0, le=7200)] | None = None
    file_size_mib: Annotated[int, Field(ge=1, le=65536)] | None = None
    cache: Literal["warm", "cold"] = "warm"  # startup: page cache dropped before each start
    metrics: Mapping[Name | str, Metric]
    platforms: tuple[PlatformName, ...] = ALL_PLATFORMS
    # Platforms the workload cannot run on, with the reason (e.g. an I/O mode a sandbox
    # refuses): shown by `vcbench workloads`, skipped and recorded as such by a run, never
    # scheduled to fail.
    unsupported: Mapping[PlatformName, Text] = {}
    method: Text = ""  # how the figure is obtained, for the report's method section

    @field_validator("command", "server", "setup", "prepare")
    @classmethod
    def _placeholders_known(cls, argv: tuple[str, ...]) -> tuple[str, ...]:
        for arg in argv:
            for _, field, _, _ in string.Formatter().parse(arg):
                if field is not None and field not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder {{{field}}} in {arg!r};"
                        f" known: {', '.join(sorted(PLACEHOLDERS))}"
                    )
        return argv

    @field_validator("platforms")
    @classmethod
    def _platforms_not_empty(cls, platforms: tuple[str, ...]) -> tuple[str, ...]:
        if not platforms or len(set(platforms)) != len(platforms):
            raise ValueError("must name each platform at most once, and at least one")
        return platforms

    @field_validator("unsupported")
    @classmethod
    def _reasons_given(cls, unsupported: Mapping[str, str]) -> Mapping[str, str]:
        if any(not reason.strip() for reason in unsupported.values()):
            raise ValueError("give the reason each platform cannot run the workload")
        return unsupported

    def runs_on_platform(self, base: str) -> bool:
        """Listed in platforms and not declared unsupported there (base: see platform_names)."""
        return base in self.platforms and base not in self.unsupported

    @property
    def timeout_s(self) -> float:
        """A trial still running after this is killed: generous, never unbounded."""
        return self.timeout or self.duration * 3 + 60.0

    def definition_hash(self) -> str:
        """What defines this workload's samples; how often it runs, and where, do not."""
        data = self.model_dump(
            mode="json",
            exclude={"repeats", "warmup", "description", "platforms", "unsupported", "method"},
        )
        # Keys added later count only when set: older workloads keep the hash their history has.
        for key in ("setup", "prepare"):
            if not data[key]:
                del data[key]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check_consistency(self) -> list[str]:
        """Cross-field rules, as messages naming the key."""
        problems: list[str] = []
        if WALL_METRIC in self.metrics:
            problems.append(f"metrics: {WALL_METRIC} is the runner's own clock; do not declare it")
        if self.kind == "command":
            if not self.command:
                problems.append("command: required for a command workload")
            if self.parser is None:
                problems.append("parser: required for a command workload")
            elif self.parser not in PARSERS:
                problems.append(
                    f"parser: unknown parser {self.parser!r}; known: {', '.join(sorted(PARSERS))}"
                )
            else:
                unknown = set(self.metrics) - set(PARSERS[self.parser].metrics)
                if unknown:
                    problems.append(
                        f"metrics: {', '.join(sorted(unknown))} not produced by parser"
                        f" {self.parser}; it gives {', '.join(PARSERS[self.parser].metrics)}"
                    )
        elif self.kind == "startup":
            unknown = set(self.metrics) - set(STARTUP_METRICS) - set(GUEST_PHASE_METRICS)
            if unknown:
                problems.append(
                    f"metrics: a startup workload reports no {', '.join(sorted(unknown))}; it"
                    f" gives {', '.join((*STARTUP_METRICS, *GUEST_PHASE_METRICS))}"
                )
        elif self.kind == "idle":
            unknown = set(self.metrics) - set(IDLE_METRICS)
            if unknown:
                problems.append(
                    f"metrics: an idle workload reports no {', '.join(sorted(unknown))};"
                    f" it gives {', '.join(IDLE_METRICS)}"
                )
        if self.runs_on == "host" and not self.server:
            problems.append("server: a workload that runs on the host needs a server inside")
        if self.prepare and not self.server:
            problems.append("prepare: runs once the server listens; it needs a server")
        if self.server and self.port is None:
            problems.append("port: required with server (the runner waits until it listens)")
        if not self.metrics and self.kind != "idle":
            problems.append("metrics: at least one metric is required")
        return problems

    def with_overrides(self, overrides: Mapping[str, Any], origin: str) -> Workload:
        """A copy with suite or command-line overrides, validated like the file itself."""
        allowed = {"duration", "warmup", "repeats", "timeout", "file_size_mib", "platforms"}
        bad = set(overrides) - allowed
        if bad:
            raise WorkloadFileError(
                f"{origin}: cannot override {', '.join(sorted(bad))} of {self.name}",
                f"overridable: {', '.join(sorted(allowed))}",
            )
        data = self.model_dump() | dict(overrides)
        if "platforms" in overrides:
            data["platforms"] = tuple(overrides["platforms"])
        return _validated(data, origin)


class Suite(Strict):
    name: Name
    description: Text
    workloads: tuple[Name, ...]
    overrides: Mapping[str, Mapping[str, Any]] = {}
    # The claim experiments the suite runs after its trials: name -> settings (checked
    # against bench/experiments/catalog.py when the run is planned).
    experiments: Mapping[Name, Mapping[str, Any]] = {}
    # The VM profiles the libvirt platform runs as (--vm-profile overrides): the suite that
    # feeds the claims carries `emulated` too, for C9's para- vs full virtualisation.
    vm_profiles: tuple[Name, ...] = ("default",)
    # What the suite runs on when --platforms is not given (else DEFAULT_RUN_PLATFORMS): the
    # suites that feed the claims name gvisor for C13; an optional platform this host lacks is
    # left out with a note rather than refused (it was not asked for by name).
    platforms: tuple[PlatformName, ...] | None = None
    # A suite may extend another: it takes the base's keys and replaces those it sets itself
    # (whole keys, not merged), so `claims` is quick plus the emulated VM and the experiments.
    extends: Name | None = None
    # Repeat until decided within this wall time of trials (bench.run.adaptive), e.g. "10m":
    # rounds go on past the workloads' repeats, while a figure is open, up to max_repeats.
    budget: Text | None = None
    max_repeats: int | None = Field(default=None, ge=2, le=1000)


def _validated(data: Mapping[str, Any], origin: str) -> Workload:
    try:
        workload = Workload.model_validate(_lists_to_tuples(data))
    except ValidationError as exc:
        raise WorkloadFileError(f"{origin}: {_first_problem(exc)}") from None
    problems = workload.check_consistency()
    if problems:
        raise WorkloadFileError(f"{origin}: {problems[0]}")
    return workload


def _lists_to_tuples(data: Mapping[str, Any]) -> dict[str, Any]:
    # TOML gives lists; strict mode wants the tuples the frozen model stores.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required key missing"
    got = err.get("input")
    shown = "" if isinstance(got, dict) or err["type"] == "missing" else f" (got {_short(got)})"
    return f"{where}: {message}{shown}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = _read_small_file(path)
        if b"\0" in raw:
            raise WorkloadFileError(f"{path}: contains a NUL byte", "save it as UTF-8 text")
        return tomllib.loads(raw.decode())
    except FileNotFoundError:
        raise WorkloadFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WorkloadFileError(f"{path}: is a directory, not a TOML file") from None
    except UnicodeDecodeError:
        raise WorkloadFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise WorkloadFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise WorkloadFileError(f"{path}: not valid TOML ({exc})") from None


def _read_small_file(path: Path) -> bytes:
    """A regular file's bytes, refused past MAX_FILE_BYTES. A device, FIFO or /proc file is
    refused before it is read: /dev/zero never ends and a FIFO blocks until someone writes."""

    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        pseudo = any(path.resolve().is_relative_to(fs) for fs in ("/proc", "/sys"))
        if not stat.S_ISREG(info.st_mode) or pseudo:  # /proc/kmsg blocks like a FIFO
            raise WorkloadFileError(f"{path}: not a regular file", "give a workload's .toml file")
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise WorkloadFileError(
            f"{path}: {info.st_size} bytes is too large for a workload file",
            f"keep it under {MAX_FILE_BYTES // 1024} KiB",
        )
    return raw


def load_workload(path: Path) -> Workload:
    data = read_toml(path)
    workload = _validated(data, str(path))
    if workload.name != path.stem:
        raise WorkloadFileError(
            f"{path}: name: {workload.name!r} differs from the file name",
            f"name the file {workload.name}.toml or set name = {path.stem!r}",
        )
    return workload


def workloads_dir() -> Path:
    """The shipped workloads: beside the package in a checkout, or the VCBENCH_WORKLOADS dir."""

    env = os.environ.get("VCBENCH_WORKLOADS")
    return Path(env) if env else paths.checkout() / "workloads"


def load_all(directory: Path | None = None) -> dict[str, Workload]:
    folder = directory or workloads_dir()
    if not folder.is_dir():
        raise WorkloadFileError(
            f"{folder}: no workloads directory",
            "run from a vcbench checkout or set VCBENCH_WORKLOADS",
        )
    return {w.name: w for w in map(load_workload, sorted(folder.glob("*.toml")))}


def load_suite(name: str, directory: Path | None = None) -> Suite:
    folder = (directory or workloads_dir()) / "suites"
    return _load_suite(folder, name, ())


def _load_suite(folder: Path, name: str, chain: tuple[str, ...]) -> Suite:
    path = folder / f"{name}.toml"
    # a name, never a path: nothing outside the suites folder is read
    if not re.fullmatch(NAME_PATTERN, name) or not path.exists():
        known = sorted(p.stem for p in folder.glob("*.toml"))
        what = f"suite {chain[-1]}: extends: unknown suite" if chain else "unknown suite"
        raise WorkloadFileError(f"{what} {name!r}", f"choose one of {', '.join(known)}")
    data = read_toml(path)
    base = data.get("extends")
    if isinstance(base, str):  # anything else fails validation below, with the key named
        if base in (*chain, name):
            loop = " -> ".join((*chain, name, base))
            raise WorkloadFileError(f"{path}: extends: a loop ({loop})", "break the loop")
        inherited = _load_suite(folder, base, (*chain, name)).model_dump(
            exclude={"name", "description", "extends"}, exclude_unset=True
        )
        data = inherited | data
    try:
        return Suite.model_validate(_lists_to_tuples(data))
    except ValidationError as exc:
        raise WorkloadFileError(f"{path}: {_first_problem(exc)}") from None


def select(
    suite: str,
    picks: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    directory: Path | None = None,
) -> list[Workload]:
    """The workloads to run: the suite's (with its overrides), or the picked names/paths.

    Command-line overrides apply last, to every selected workload.
    """
    known = load_all(directory)
    chosen: list[Workload]
    if picks:
        chosen = [_pick(p, known) for p in picks]
    else:
        spec = load_suite(suite, directory)
        chosen = []
        for name in spec.workloads:
            if name not in known:
                raise WorkloadFileError(f"suite {suite}: workloads: unknown workload {name!r}")
            extra = spec.overrides.get(name, {})
            chosen.append(
                known[name].with_overrides(extra, f"suite {suite}") if extra else known[name]
            )
        unknown = set(spec.overrides) - set(spec.workloads)
        if unknown:
            raise WorkloadFileError(
                f"suite {suite}: overrides: {', '.join(unknown)} not in the suite"
            )
    if overrides:
        chosen = [w.with_overrides(overrides, "command line") for w in chosen]
    return chosen


def _pick(pick: str, known: Mapping[str, Workload]) -> Workload:
    if pick.endswith(".toml") or "/" in pick:
        return load_workload(Path(pick))
    if pick not in known:
        raise WorkloadFileError(f"unknown workload {pick!r}", f"known: {', '.join(sorted(known))}")
    return known[pick]


def fill(argv: Sequence[str], values: Mapping[str, object]) -> list[str]:
    """The command with its placeholders filled in for one trial."""
    return [arg.format_map(values) for arg in argv]
