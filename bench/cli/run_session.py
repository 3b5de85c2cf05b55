"""One `vcbench run` from a checked plan to its report: the host lock, the images, the results
directory (plan and fingerprint first), the interleaved trials, the claim experiments, then
the terminal summary, the regression check, the report and the history index.

`bench.cli.run` parses and validates the options; everything that measures is here, so
parsing stays light (this module loads the docker and libvirt SDKs, pandas and matplotlib).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from bench.analysis import gate
from bench.cli.compare import EXIT_REGRESSION
from bench.cli.execute import reap_leftovers
from bench.core.errors import BenchError
from bench.core.platform_names import base_of, profile_of
from bench.data.check_record import CheckRecord, is_confirmation, write_check
from bench.data.results import Event, RunWriter, find_run, load_run, read_meta
from bench.data.run_meta import parse_meta
from bench.experiments.announce import experiment_reporter
from bench.experiments.stage import pending, run_experiments
from bench.images.build import build
from bench.platforms import docker, libvirt, lifecycle
from bench.platforms.labels import RunContext, new_run_id, runs_root
from bench.platforms.profile_fit import run_records, shortfall_events
from bench.platforms.protocol import PlatformConfig
from bench.report.history import write_index
from bench.report.regression_check import check_run, verdict_lines
from bench.report.render import write_report
from bench.report.terminal import print_summary
from bench.run import fingerprint
from bench.run.confirmation import confirmation_plans
from bench.run.host_lock import busy_reasons, host_lock
from bench.run.progress import reporter
from bench.run.runner import Runner, RunPlan, open_platforms

EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class Output:
    """Where a run's outputs go and how much the terminal is told."""

    quiet: bool
    as_json: bool
    results: Path
    reports: Path
    compare: bool = True  # judge the run against the host's history of runs (exit 3)
    confirm: bool = False  # re-measure this run's suspects in fresh runs, in the same job


def resume(ref: str, out: Output) -> None:
    directory = find_run(ref, out.results)
    meta = read_meta(directory)
    plan = RunPlan.from_json(meta["plan"])
    done = load_run(directory).done()
    execute(plan, directory, (meta, done), out)


def skip_events(workloads: Any, bases: tuple[str, ...], at: float) -> list[Any]:
    """One `skipped` event per workload and platform of the run it cannot run on: declared in
    its `unsupported` table, or refused by this host's setup of the platform."""

    return [
        Event(
            "skipped",
            f"{w.name} does not run on {platform}: {why}",
            "`vcbench workloads` lists what runs where, and why not",
            at=at,
            data={"workload": w.name, "platform": platform, "reason": why},
        )
        for w in workloads
        for platform, why in w.unsupported.items()
        if platform in bases
    ]


def execute(
    plan: Any,
    directory: Path,
    resume: tuple[dict[str, Any], set[str]] | None,
    out: Output,
) -> None:
    """Measure under the host lock, then the summary, the report and the history index."""

    tally = measure(plan, directory, resume, out)
    failed = bool(tally.failed or tally.dropped or tally.experiments_failed)
    failed |= finish(directory, out)
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def measure(
    plan: Any,
    directory: Path,
    resume: tuple[dict[str, Any], set[str]] | None,
    out: Output,
    extra_meta: Mapping[str, Any] | None = None,
) -> Any:
    """The run's trials and experiments under the host lock; the tally of what happened."""

    def say(message: str) -> None:
        if not (out.quiet or out.as_json):
            click.echo(message, err=True)

    with lifecycle.sigterm_raises(), host_lock(plan.run_id):
        reaped = reap_leftovers(lambda line: click.echo(line, err=True))
        images = build(progress=say)
        writer, done = _open_results(plan, directory, resume, images, extra_meta or {})
        for event in reaped_events(reaped, time.time()):
            writer.event(event)
        say(f"run {plan.run_id}: results in {directory}")
        return _measure(plan, writer, images, done, out, _used_accel(plan, directory))


def _open_results(
    plan: Any,
    directory: Path,
    resume: tuple[dict[str, Any], set[str]] | None,
    images: Any,
    extra_meta: Mapping[str, Any],
) -> tuple[Any, set[str]]:
    """A new run directory (plan and fingerprint first), or the interrupted one reopened."""

    if resume is None:
        profiles = _vm_profile_records(plan, images)
        meta = {
            "run_id": plan.run_id,
            "created": time.time(),
            "plan": plan.to_json(),
            "fingerprint": fingerprint.collect(
                images, plan.limits, _bases(plan.platforms), plan.accel
            ),
            "policy": asdict(gate.DEFAULT),  # the thresholds every verdict of the run used
            **extra_meta,
        }
        meta["fingerprint"]["vm_profiles"] = profiles
        writer = RunWriter.create(directory, meta)
        for event in shortfall_events(profiles, time.time()):
            writer.event(event)
        _record_busy(writer, _bases(plan.platforms))
        for event in skip_events(plan.workloads, _bases(plan.platforms), time.time()):
            writer.event(event)
        return writer, set()
    meta, done = resume
    _check_same_userland(meta, images.digest)
    writer = RunWriter.reopen(directory)  # its killed attempt's leftovers: reaped already
    message = f"resumed with {len(done)} trial(s) already recorded"
    writer.event(Event("resumed", message, at=time.time()))
    return writer, done


def _used_accel(plan: Any, directory: Path) -> Any:
    """The accel run.json recorded for the VMs (one fact: every VM of the run, resumed or not,
    starts under it); --accel as asked when no VM runs or the fingerprint could not say."""
    accel = parse_meta(read_meta(directory)).accel
    return accel if accel in ("kvm", "tcg") else plan.accel


def _measure(plan: Any, writer: Any, images: Any, done: set[str], out: Output, accel: Any) -> Any:

    context = RunContext.create(plan.run_id, log_dir=writer.dir / "logs")
    config = PlatformConfig(context, images, accel)
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

    chosen = pending(plan.experiments, writer)
    if not chosen:
        return []
    kept = [p for p in plan.platforms if p not in dropped]
    with open_platforms(kept, config) as platforms:
        progress = experiment_reporter(out.quiet, out.as_json)
        outcomes = run_experiments(chosen, platforms, plan.limits, config, writer, progress)
    return [o.name for o in outcomes if o.status != "ok"]


def finish(directory: Path, out: Output) -> bool:
    """The terminal summary, the run-level regression check (with its confirmation runs under
    --confirm), the run's report and the history index; the results path last. Exit 3 when a
    figure was confirmed worse; True when a confirmation run had failed trials."""

    print_summary(directory, quiet=out.as_json)
    # A confirmation run (its own --resume) is judged with the run it confirms, never alone.
    checked = out.compare and not is_confirmation(read_meta(directory))
    record, confirm_failed = _regression_check(directory, out) if checked else (None, False)
    for line in verdict_lines(record) if record else ():
        click.echo(line, err=out.as_json)  # --json keeps stdout for the trial records
    report = write_report(directory, out.reports / directory.name)
    index = write_index(out.results, out.reports)
    click.echo(f"report: {report}\nhistory: {index}", err=True)
    click.echo(str(directory))
    if record and record.regressed:
        sys.exit(EXIT_REGRESSION)  # before the failed-trials exit 1: CI must see a regression
    return confirm_failed


def _regression_check(directory: Path, out: Output) -> tuple[CheckRecord, bool]:
    """Screen the run against its history; under --confirm, measure fresh runs of its suspects
    and confirm them. The record is stored in the run's directory for the report and the next
    night; stored before the confirmation runs too, so that an interrupted confirmation leaves
    the suspects open for the next run to confirm."""

    record = check_run(directory, out.results)
    write_check(directory, record)
    failed = False
    if out.confirm and record.open_suspects:
        from bench.analysis.gate import DEFAULT
        from bench.run.runner import RunPlan

        plan = RunPlan.from_json(read_meta(directory)["plan"])
        plans = confirmation_plans(plan, record.open_suspects, DEFAULT.confirm_runs, new_run_id)
        if not (out.quiet or out.as_json):
            fresh = plans[0][0]
            click.echo(
                f"confirming {len(record.open_suspects)} suspect(s) with {len(plans)} fresh runs"
                f" of {', '.join(w.name for w in fresh.workloads)} on {','.join(fresh.platforms)}",
                err=True,
            )
        dirs = []
        for fresh, marker in plans:
            tally = measure(fresh, out.results / fresh.run_id, None, out, marker)
            failed |= bool(tally.failed or tally.dropped)
            dirs.append(out.results / fresh.run_id)
        record = check_run(directory, out.results, dirs)
        write_check(directory, record)
    return record, failed


def _bases(platforms: tuple[str, ...]) -> tuple[str, ...]:
    """native, docker, libvirt: libvirt-emulated alone still needs libvirt's versions, accel."""
    return tuple(dict.fromkeys(base_of(p) for p in platforms))


def _vm_profile_records(plan: Any, images: Any) -> dict[str, Any]:
    """What each VM profile of the run applies on this host, and what it cannot."""

    if not any(profile_of(p) for p in plan.platforms):
        return {}
    kvm = libvirt.resolve_accel(plan.accel) == "kvm"
    dirs = (runs_root(), images.disk_raw.parent)
    return run_records(plan.platforms, kvm, plan.limits.vcpus, plan.limits.memory_mib, dirs)


def _record_busy(writer: Any, platforms: tuple[str, ...]) -> None:

    docker_client = conn = None
    try:
        if "docker" in platforms:
            docker_client = docker.connect()
        if "libvirt" in platforms:
            conn = libvirt.connect()
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


def reaped_events(sweep: Any, at: float) -> list[Event]:
    """What the reaper removed before this run, as one event (none when nothing was left)."""
    if not (sweep.found or sweep.failed):
        return []
    runs = sorted({item.run_id for item in sweep.found})
    message = (
        f"reaped {len(sweep.found)} leftover(s) of {len(runs)} dead run(s) before measuring"
        + (f" ({len(sweep.failed)} could not be removed)" if sweep.failed else "")
    )
    data = {
        "code": "reaped",
        "runs": runs,
        "removed": [item.describe() for item in sweep.found],
        "failed": list(sweep.failed),
    }
    advice = "`vcbench gc` removes what is left; check the daemons' logs" if sweep.failed else ""
    return [Event("reaped", message, advice, at=at, data=data)]
