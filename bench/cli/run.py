"""`vcbench run` and `vcbench workloads`: parse, validate everything, then measure."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, cast

import click

from bench.cli.options import FiniteRange
from bench.core import paths
from bench.core.durations import parse_duration
from bench.core.errors import BenchError
from bench.core.platform_names import base_of, expand_vm_profiles
from bench.core.workload import (
    ALL_PLATFORMS,
    DEFAULT_RUN_PLATFORMS,
    Suite,
    Workload,
    load_all,
    load_suite,
    select,
)
from bench.experiments.catalog import choose, parse_names
from bench.host.availability import SETUP_FIX, problem_of, require_available
from bench.platforms.host_refusals import with_host_refusals
from bench.platforms.labels import new_run_id
from bench.platforms.protocol import AccelChoice, Limits
from bench.platforms.registry import net_variants
from bench.platforms.vm_profile import parse_profiles


@click.command("workloads")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--suite", default=None, help="Only the workloads of this suite, with its overrides.")
def workloads_command(as_json: bool, suite: str | None) -> None:
    """List the workloads (workloads/*.toml) and what each measures."""
    found = select(suite) if suite else list(load_all().values())
    found = with_host_refusals(found, ALL_PLATFORMS)
    if as_json:
        rows = [w.model_dump(mode="json") | {"hash": w.definition_hash()} for w in found]
        click.echo(json.dumps(rows, indent=2))
        return
    for w in found:
        metrics = ", ".join(
            f"{m} ({spec.unit}, {'higher' if spec.higher_is_better else 'lower'} is better)"
            for m, spec in w.metrics.items()
        )
        runs_on = [p for p in w.platforms if w.runs_on_platform(p)]
        click.echo(
            f"{w.name:<22} {w.kind:<8} {w.duration:>4} s x{w.repeats} (+{w.warmup} warm-up)"
            f"  {','.join(runs_on)}\n{'':<23}{w.description}\n{'':<23}{metrics}"
        )
        for platform, why in w.unsupported.items():
            click.echo(f"{'':<23}not on {platform}: {why}")


def _platforms(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    known = (*ALL_PLATFORMS, *net_variants())  # docker-nat, docker-hostnet: network profiles
    unknown = [p for p in names if p not in known]
    if unknown or not names:
        raise BenchError(
            f"--platforms: unknown platform {', '.join(unknown) or '(none)'}",
            f"choose from {','.join(known)}",
        )
    require_available(names)  # gvisor without runsc, podman without podman: one line, exit 2
    return names


def _overrides(repeats: int | None, warmups: int | None, duration: int | None) -> dict[str, Any]:
    given = {"repeats": repeats, "warmup": warmups, "duration": duration}
    return {k: v for k, v in given.items() if v is not None}


def _limits(vcpus: int | None, memory: int, cpuset: str | None) -> Limits:
    host_cpus = len(os.sched_getaffinity(0))
    # One host CPU stays free for the harness, the collectors, QEMU's I/O thread and the
    # network clients, so that none of them steals time from the instance being measured.
    default = max(1, min(4, host_cpus - 1))
    return Limits.on_host(vcpus or default, memory, cpuset)


@click.command("run")
@click.option(
    "--suite",
    default="full",
    show_default=True,
    help="quick, claims, full, tiny, or another suite in workloads/suites/.",
)
@click.option(
    "--workload",
    "picks",
    multiple=True,
    help="A workload name or TOML path (repeatable); replaces the suite.",
)
@click.option(
    "--platforms",
    "platforms_text",
    default=None,
    help=f"Any of {','.join(ALL_PLATFORMS)}; network profiles: {','.join(net_variants())}."
    f"  [default: the suite's, else {','.join(DEFAULT_RUN_PLATFORMS)}]",
)
@click.option(
    "--vm-profile",
    "vm_profiles_text",
    default=None,
    help="VM profiles (default,tuned,emulated): libvirt runs as libvirt, libvirt-<profile>."
    " [default: the suite's, else default]",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 1000),
    default=None,
    help="Override every workload's repeats.",
)
@click.option(
    "--warmups",
    type=click.IntRange(0, 100),
    default=None,
    help="Override warm-ups per measured trial.",
)
@click.option(
    "--duration", type=click.IntRange(1, 3600), default=None, help="Override durations (s)."
)
@click.option(
    "--vcpus",
    type=click.IntRange(1, 1024),
    default=None,
    help="Default: host CPUs - 1 (at most 4).",
)
@click.option(
    "--memory",
    "memory_mib",
    type=click.IntRange(128, 1 << 22),
    default=1024,
    show_default=True,
    help="MiB.",
)
@click.option("--cpuset", default=None, help="Host CPUs for the instances, one per vCPU.")
@click.option(
    "--seed", type=int, default=None, help="Order seed (default: from the clock, recorded)."
)
@click.option("--fresh", is_flag=True, help="A new instance for every trial.")
@click.option(
    "--experiments",
    "experiments_text",
    default=None,
    metavar="NAME,...|none",
    help="Claim experiments after the trials (default: the suite's; none with --workload).",
)
@click.option(
    "--accel", type=click.Choice(["kvm", "tcg", "auto"]), default="auto", show_default=True
)
@click.option("--sample-hz", type=FiniteRange(0.5, 100), default=10.0, show_default=True)
@click.option(
    "--resume", "resume_ref", default=None, metavar="RUN", help="Finish an interrupted run."
)
@click.option(
    "--results",
    "results_root",
    type=click.Path(path_type=Path),
    default=None,
    help="Results root (default: results/ or $VCBENCH_RESULTS).",
)
@click.option(
    "--reports",
    "reports_root",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the HTML report and the history index go (default: reports/ or $VCBENCH_REPORTS).",
)
@click.option(
    "--no-compare",
    is_flag=True,
    help="Skip the regression check against this host's earlier runs (exit 3 on a confirmed"
    " regression).",
)
@click.option(
    "--confirm",
    is_flag=True,
    help="Confirm this run's suspects (figures outside their history) with fresh runs of them"
    " now, in the same job; without it the next run confirms them. For nightly CI.",
)
@click.option(
    "--budget",
    "budget_text",
    default=None,
    metavar="DURATION|none",
    help="Repeat until decided, within this much trial time (10m, 1h): after 5 repeats only"
    " the figures still open run again. [default: the suite's budget, else fixed repeats]",
)
@click.option("--quiet", is_flag=True, help="No progress; the summary and the results path only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per trial on stdout, for CI.")
def run_command(
    suite: str,
    picks: tuple[str, ...],
    platforms_text: str | None,
    vm_profiles_text: str | None,
    repeats: int | None,
    warmups: int | None,
    duration: int | None,
    vcpus: int | None,
    memory_mib: int,
    cpuset: str | None,
    seed: int | None,
    fresh: bool,
    experiments_text: str | None,
    accel: str,
    sample_hz: float,
    resume_ref: str | None,
    results_root: Path | None,
    reports_root: Path | None,
    no_compare: bool,
    confirm: bool,
    budget_text: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run a suite on native, docker and libvirt, interleaved, into results/<run-id>/."""
    # Here, not at the top: the session loads the docker and libvirt SDKs, pandas and
    # matplotlib, which `vcbench --help` and every refused option should not wait for.
    from bench.cli import run_session
    from bench.run.runner import RunPlan

    root = results_root or paths.results_dir()
    _check_results_root(root)
    if confirm and no_compare:
        raise BenchError("--confirm and --no-compare contradict each other", "drop one of them")
    out = run_session.Output(
        quiet, as_json, root, reports_root or paths.reports_dir(), not no_compare, confirm
    )
    if resume_ref:
        run_session.resume(resume_ref, out)
        return
    spec = None if picks else load_suite(suite)  # read once: every default below is its
    profiles = parse_profiles(vm_profiles_text or _suite_profiles(spec))
    given = platforms_text or _suite_platforms(spec)
    platforms = expand_vm_profiles(_platforms(given), profiles)
    chosen = select(suite, picks, _overrides(repeats, warmups, duration))
    chosen = _on_platforms(chosen, platforms)
    plan = RunPlan(
        run_id=new_run_id(),
        suite=suite if not picks else "custom",
        workloads=tuple(chosen),
        platforms=platforms,
        limits=_limits(vcpus, memory_mib, cpuset),
        seed=seed if seed is not None else time.time_ns() % 2**31,
        fresh=fresh,
        accel=cast(AccelChoice, accel),
        sample_hz=sample_hz,
        experiments=_experiments(spec, experiments_text),
        vm_profiles=profiles,
        adaptive=_adaptive(spec, budget_text, repeats, chosen),
    )
    run_session.execute(plan, root / plan.run_id, None, out)


def _adaptive(
    spec: Suite | None, text: str | None, repeats: int | None, chosen: list[Workload]
) -> Any:
    """The adaptive plan: --budget, else the suite's budget; None for fixed repeats. The looks
    run from the gate's minimum repeats to --repeats, the suite's max_repeats, or 12."""
    from bench.analysis import gate, sequential
    from bench.run.adaptive import Adaptive

    given = text if text is not None else (spec.budget if spec else None)
    if given is None or given.strip().lower() == "none":
        return None
    where = "--budget" if text is not None or spec is None else f"suite {spec.name}: budget"
    budget = parse_duration(given, where)
    most = max((w.repeats for w in chosen), default=0)
    max_n = repeats or (spec.max_repeats if spec and spec.max_repeats else None)
    max_n = max(max_n or max(sequential.MAX_N, most), gate.MIN_REPEATS)
    return Adaptive(sequential.Design(max_n=max_n), budget)


def _suite_platforms(spec: Suite | None) -> str:
    """The suite's platforms, those this host can run: gvisor or podman named by a suite but
    missing here is left out with a note (C13 then says it was not measured), not refused."""
    named = spec.platforms if spec else None
    kept = []
    for name in named or DEFAULT_RUN_PLATFORMS:
        problem = problem_of(name)
        if problem:
            whose = f"suite {spec.name}" if spec else "the default platforms"
            click.echo(f"note: {whose} left out {name}: {problem} ({SETUP_FIX})", err=True)
        else:
            kept.append(name)
    return ",".join(kept)


def _suite_profiles(spec: Suite | None) -> str:
    return ",".join(spec.vm_profiles) if spec else "default"


def _experiments(spec: Suite | None, text: str | None) -> tuple[Any, ...]:
    """The suite's experiments table, or --experiments (with the suite's settings for them)."""
    table = spec.experiments if spec else {}
    names = None if text is None else parse_names(text)
    return choose(table, names, f"suite {spec.name}" if spec else "--experiments")


def _check_results_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise BenchError(f"results directory {root} is a file", "point --results at a directory")
    probe = root if root.exists() else next((p for p in root.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise BenchError(f"results directory {root} is not writable", "choose another --results")


def _on_platforms(chosen: list[Workload], platforms: tuple[str, ...]) -> list[Workload]:
    kept = []
    bases = {base_of(p) for p in platforms}  # a workload on libvirt runs on every VM profile
    for w in with_host_refusals(chosen, sorted(bases)):
        # a platform the workload declares unsupported is skipped (recorded), never failed
        mine = tuple(p for p in w.platforms if p in bases and w.runs_on_platform(p))
        if mine:
            kept.append(w if mine == w.platforms else w.model_copy(update={"platforms": mine}))
    if not kept:
        raise BenchError(
            "no selected workload runs on the selected platforms",
            "widen --platforms or pick other workloads",
        )
    return kept
