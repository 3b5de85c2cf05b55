"""`vcbench run` and `vcbench workloads`: parse, validate everything, then measure."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import click

from bench.cli.options import FiniteRange
from bench.core.errors import BenchError
from bench.core.platform_names import base_of, expand_vm_profiles, profile_of
from bench.core.workload import ALL_PLATFORMS, DEFAULT_RUN_PLATFORMS, Workload
from bench.platforms.protocol import AccelChoice, Limits
from bench.platforms.vm_profile import parse_profiles

EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class Output:
    """Where a run's outputs go and how much the terminal is told."""

    quiet: bool
    as_json: bool
    results: Path
    reports: Path
    compare: bool = True  # judge the run against the previous comparable one (exit 3)


@click.command("workloads")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--suite", default=None, help="Only the workloads of this suite, with its overrides.")
def workloads_command(as_json: bool, suite: str | None) -> None:
    """List the workloads (workloads/*.toml) and what each measures."""
    from bench.core.workload import load_all, select

    found = select(suite) if suite else list(load_all().values())
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
    unknown = [p for p in names if p not in ALL_PLATFORMS]
    if unknown or not names:
        raise BenchError(
            f"--platforms: unknown platform {', '.join(unknown) or '(none)'}",
            f"choose from {','.join(ALL_PLATFORMS)}",
        )
    from bench.platforms.availability import require_available

    require_available(names)  # gvisor without runsc, podman without podman: one line, exit 2
    return names


def _overrides(repeats: int | None, warmups: int | None, duration: int | None) -> dict[str, Any]:
    given = {"repeats": repeats, "warmup": warmups, "duration": duration}
    return {k: v for k, v in given.items() if v is not None}


def _limits(vcpus: int | None, memory: int, cpuset: str | None) -> Limits:
    import os

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
    default=",".join(DEFAULT_RUN_PLATFORMS),
    show_default=True,
    help=f"Any of {','.join(ALL_PLATFORMS)}.",
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
    help="Skip the regression check against the previous comparable run (exit 3 on a regression).",
)
@click.option("--quiet", is_flag=True, help="No progress; the summary and the results path only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per trial on stdout, for CI.")
def run_command(
    suite: str,
    picks: tuple[str, ...],
    platforms_text: str,
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
    quiet: bool,
    as_json: bool,
) -> None:
    """Run a suite on native, docker and libvirt, interleaved, into results/<run-id>/."""
    from bench.core import paths
    from bench.core.workload import select
    from bench.platforms.labels import new_run_id
    from bench.run.runner import RunPlan

    root = results_root or paths.results_dir()
    _check_results_root(root)
    out = Output(quiet, as_json, root, reports_root or paths.reports_dir(), not no_compare)
    if resume_ref:
        _resume(resume_ref, out)
        return
    profiles = parse_profiles(vm_profiles_text or _suite_profiles(suite, bool(picks)))
    platforms = expand_vm_profiles(_platforms(platforms_text), profiles)
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
        experiments=_experiments(suite, bool(picks), experiments_text),
        vm_profiles=profiles,
    )
    _execute(plan, root / plan.run_id, None, out)


def _suite_profiles(suite: str, custom: bool) -> str:
    from bench.core.workload import load_suite

    return "default" if custom else ",".join(load_suite(suite).vm_profiles)


def _experiments(suite: str, custom: bool, text: str | None) -> tuple[Any, ...]:
    """The suite's experiments table, or --experiments (with the suite's settings for them)."""
    from bench.core.workload import load_suite
    from bench.experiments.catalog import choose, parse_names

    table = {} if custom else load_suite(suite).experiments
    names = None if text is None else parse_names(text)
    return choose(table, names, "--experiments" if custom else f"suite {suite}")


def _check_results_root(root: Path) -> None:
    import os

    if root.exists() and not root.is_dir():
        raise BenchError(f"results directory {root} is a file", "point --results at a directory")
    probe = root if root.exists() else next((p for p in root.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise BenchError(f"results directory {root} is not writable", "choose another --results")


def _on_platforms(chosen: list[Workload], platforms: tuple[str, ...]) -> list[Workload]:
    kept = []
    bases = {base_of(p) for p in platforms}  # a workload on libvirt runs on every VM profile
    for w in chosen:
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


def skip_events(workloads: Any, bases: tuple[str, ...], at: float) -> list[Any]:
    """One `skipped` event per workload and platform of the run it declares unsupported."""
    from bench.data.results import Event

    return [
        Event(
            "skipped",
            f"{w.name} does not run on {platform}: {why}",
            "declared in the workload's `unsupported` table",
            at=at,
            data={"workload": w.name, "platform": platform, "reason": why},
        )
        for w in workloads
        for platform, why in w.unsupported.items()
        if platform in bases
    ]


def _resume(ref: str, out: Output) -> None:
    from bench.data.results import find_run, load_run, read_meta
    from bench.run.runner import RunPlan

    directory = find_run(ref, out.results)
    meta = read_meta(directory)
    plan = RunPlan.from_json(meta["plan"])
    done = load_run(directory).done()
    _execute(plan, directory, (meta, done), out)


def _execute(
    plan: Any,
    directory: Path,
    resume: tuple[dict[str, Any], set[str]] | None,
    out: Output,
) -> None:
    """Measure under the host lock, then the summary, the report and the history index."""
    from bench.images.build import build
    from bench.platforms import lifecycle
    from bench.run.host_lock import host_lock

    def say(message: str) -> None:
        if not (out.quiet or out.as_json):
            click.echo(message, err=True)

    with lifecycle.sigterm_raises(), host_lock(plan.run_id):
        images = build(progress=say)
        writer, done = _open_results(plan, directory, resume, images)
        say(f"run {plan.run_id}: results in {directory}")
        tally = _measure(plan, writer, images, done, out)
    _finish(directory, out)
    if tally.failed or tally.dropped or tally.experiments_failed:
        sys.exit(EXIT_SOME_FAILED)


def _open_results(
    plan: Any, directory: Path, resume: tuple[dict[str, Any], set[str]] | None, images: Any
) -> tuple[Any, set[str]]:
    """A new run directory (plan and fingerprint first), or the interrupted one reopened."""
    from bench.data.results import Event, RunWriter
    from bench.run import fingerprint

    if resume is None:
        meta = {
            "run_id": plan.run_id,
            "created": time.time(),
            "plan": plan.to_json(),
            "fingerprint": fingerprint.collect(images, plan.limits, _bases(plan.platforms)),
        }
        profiles = _vm_profile_records(plan, images)
        meta["fingerprint"]["vm_profiles"] = profiles
        writer = RunWriter.create(directory, meta)
        from bench.platforms.profile_fit import shortfall_events

        for event in shortfall_events(profiles, time.time()):
            writer.event(event)
        _record_busy(writer, _bases(plan.platforms))
        for event in skip_events(plan.workloads, _bases(plan.platforms), time.time()):
            writer.event(event)
        return writer, set()
    meta, done = resume
    _check_same_userland(meta, images.digest)
    writer = RunWriter.reopen(directory)
    _collect_leftovers(plan.run_id)
    message = f"resumed with {len(done)} trial(s) already recorded"
    writer.event(Event("resumed", message, at=time.time()))
    return writer, done


def _measure(plan: Any, writer: Any, images: Any, done: set[str], out: Output) -> Any:
    from bench.data.results import Event
    from bench.platforms.labels import RunContext
    from bench.platforms.protocol import PlatformConfig
    from bench.run.progress import reporter
    from bench.run.runner import Runner

    context = RunContext.create(plan.run_id, log_dir=writer.dir / "logs")
    config = PlatformConfig(context, images, plan.accel)
    resume_hint = f"finish it with `vcbench run --resume {plan.run_id}`"
    with reporter(plan, out.quiet, out.as_json) as progress:
        try:
            tally = Runner(plan, writer, config, progress).run(done)
            tally.experiments_failed = _run_experiments(plan, writer, config, out, tally.dropped)
        except KeyboardInterrupt as exc:
            why = str(exc) or "interrupted (SIGINT)"
            writer.event(Event("interrupted", why, resume_hint, at=time.time()))
            click.echo(
                f"vcbench: interrupted; every finished trial is kept in {writer.dir};"
                f" {resume_hint}",
                err=True,
            )
            raise
    writer.event(Event("finished", "the schedule is complete", at=time.time(), data=asdict(tally)))
    return tally


def _run_experiments(
    plan: Any, writer: Any, config: Any, out: Output, dropped: list[str]
) -> list[str]:
    """The claim experiments not yet ended well in this run, on the platforms the trials did
    not drop (their dropped-platform event says why); the names of those that failed."""
    from bench.experiments.announce import experiment_reporter
    from bench.experiments.stage import pending, run_experiments
    from bench.run.runner import open_platforms

    chosen = pending(plan.experiments, writer)
    if not chosen:
        return []
    kept = [p for p in plan.platforms if p not in dropped]
    with open_platforms(kept, config) as platforms:
        progress = experiment_reporter(out.quiet, out.as_json)
        outcomes = run_experiments(chosen, platforms, plan.limits, config, writer, progress)
    return [o.name for o in outcomes if o.status != "ok"]


def _finish(directory: Path, out: Output) -> None:
    """The terminal summary, the verdict against the previous comparable run, the run's report
    and the history index; the results path last. Exit 3 when a figure regressed."""
    from bench.cli.compare import EXIT_REGRESSION
    from bench.report.baseline import judge
    from bench.report.history import write_index
    from bench.report.render import write_report
    from bench.report.terminal import print_summary

    print_summary(directory, quiet=out.as_json)
    verdict = judge(directory, out.results) if out.compare else None
    for line in verdict.lines if verdict else ():
        click.echo(line, err=out.as_json)  # --json keeps stdout for the trial records
    report = write_report(directory, out.reports / directory.name)
    index = write_index(out.results, out.reports)
    click.echo(f"report: {report}\nhistory: {index}", err=True)
    click.echo(str(directory))
    if verdict and verdict.regressed:
        sys.exit(EXIT_REGRESSION)  # before the failed-trials exit 1: CI must see a regression


def _bases(platforms: tuple[str, ...]) -> tuple[str, ...]:
    """native, docker, libvirt: libvirt-emulated alone still needs libvirt's versions, accel."""
    return tuple(dict.fromkeys(base_of(p) for p in platforms))


def _vm_profile_records(plan: Any, images: Any) -> dict[str, Any]:
    """What each VM profile of the run applies on this host, and what it cannot."""
    from bench.platforms.labels import runs_root
    from bench.platforms.libvirt import resolve_accel
    from bench.platforms.profile_fit import run_records

    if not any(profile_of(p) for p in plan.platforms):
        return {}
    kvm = resolve_accel(plan.accel) == "kvm"
    dirs = (runs_root(), images.disk_raw.parent)
    return run_records(plan.platforms, kvm, plan.limits.vcpus, plan.limits.memory_mib, dirs)


def _record_busy(writer: Any, platforms: tuple[str, ...]) -> None:
    from bench.data.results import Event
    from bench.run.host_lock import busy_reasons

    docker_client = conn = None
    try:
        if "docker" in platforms:
            from bench.platforms.docker import connect as docker_connect

            docker_client = docker_connect()
        if "libvirt" in platforms:
            from bench.platforms.libvirt import connect as libvirt_connect

            conn = libvirt_connect()
        for reason in busy_reasons(docker_client, conn):
            writer.event(
                Event(
                    "warning",
                    f"busy host: {reason}",
                    "stop other work on the host, or read these figures as noisy",
                    at=time.time(),
                    data={"code": "busy-host"},
                )
            )
    finally:
        if docker_client is not None:
            docker_client.close()
        if conn is not None:
            conn.close()


def _check_same_userland(meta: dict[str, Any], digest: str) -> None:
    recorded = meta.get("fingerprint", {}).get("rootfs_digest")
    if recorded != digest:
        raise BenchError(
            f"the rootfs changed since this run started ({str(recorded)[:12]} -> {digest[:12]})",
            "resume would mix userlands: start a new run",
        )


def _collect_leftovers(run_id: str) -> None:
    """What a killed earlier attempt of this run left (its names would clash with ours)."""
    from bench.cli.execute import _docker_or_none, _libvirt_or_none
    from bench.platforms import gc

    sweep = gc.find(_docker_or_none(), _libvirt_or_none())
    mine = [item for item in sweep.found if item.run_id == run_id]
    gc.collect(gc.Sweep(found=mine, unreachable=[]))
