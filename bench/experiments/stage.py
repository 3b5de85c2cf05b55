"""The claim experiments of a run, after the suite's trials, in the same run directory.

Each record is written as it is yielded; each experiment's end (ok, or failed with a
one-line cause) is an Event of kind "experiment", which `--resume` reads to skip what
ended well. One experiment failing neither loses the suite's results nor stops the others.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.core.errors import BenchError, first_line
from bench.data.outcomes import EVENT_KIND, Outcome, ended
from bench.data.results import Event, ExperimentRecord, RunWriter, load_run
from bench.experiments import catalog
from bench.experiments.context import Experiment, ExperimentContext
from bench.platforms.libvirt import LibvirtPlatform, resolve_accel
from bench.platforms.protocol import Limits, Platform, PlatformConfig

# (name, position, total, its outcome or None when it starts)
ExperimentProgress = Callable[[str, int, int, Outcome | None], None]
Chosen = Sequence[tuple[str, Mapping[str, Any]]]


def pending(chosen: Chosen, writer: RunWriter) -> list[tuple[str, Mapping[str, Any]]]:
    """The chosen experiments this run directory has no successful end of: never run, cut
    short, or failed (a failure's cause may be fixed by now; its event stays in the run)."""
    ends = ended(load_run(writer.dir).events)
    return [(n, s) for n, s in chosen if n not in ends or ends[n].status != "ok"]


def run_experiments(
    chosen: Chosen,
    platforms: Mapping[str, Platform],
    limits: Limits,
    config: PlatformConfig,
    writer: RunWriter,
    progress: ExperimentProgress,
) -> list[Outcome]:
    """Run each chosen experiment on the open platforms; their outcomes, in order."""
    accel = _vm_accel(platforms, config)
    outcomes = []
    for position, (name, settings) in enumerate(chosen, 1):
        progress(name, position, len(chosen), None)
        ctx = ExperimentContext(platforms, limits, config.images, accel, settings)
        outcome = run_one(name, ctx, writer)
        progress(name, position, len(chosen), outcome)
        outcomes.append(outcome)
    return outcomes


def run_one(name: str, ctx: ExperimentContext, writer: RunWriter) -> Outcome:
    attempt = time.time()
    count = 0
    try:
        experiment: Experiment = catalog.make(name)
        for record in experiment.run(ctx):
            writer.record_experiment([_stamped(record, attempt)])
            count += 1
        outcome = Outcome(name, "ok", records=count, attempt=attempt)
    except BenchError as exc:
        outcome = Outcome(name, "failed", exc.one_line(), count, attempt)
    except Exception as exc:  # one experiment's bug must not cost the others
        outcome = Outcome(
            name, "failed", f"{type(exc).__name__}: {first_line(exc)}", count, attempt
        )
    writer.event(_end_event(outcome, time.time() - attempt))
    return outcome


def _stamped(record: ExperimentRecord, attempt: float) -> ExperimentRecord:
    return dataclasses.replace(
        record, at=record.at or time.time(), detail={**record.detail, "attempt": attempt}
    )


def _end_event(outcome: Outcome, seconds: float) -> Event:
    ok = outcome.status == "ok"
    message = (
        f"experiment {outcome.name}: {outcome.records} record(s) in {seconds:.1f} s"
        if ok
        else f"experiment {outcome.name} failed: {outcome.cause}"
    )
    data = dataclasses.asdict(outcome) | {"seconds": round(seconds, 3)}
    advice = "" if ok else "fix the cause, then `vcbench run --resume RUN` runs it again"
    return Event(EVENT_KIND, message, advice, at=time.time(), data=data)


def _vm_accel(platforms: Mapping[str, Platform], config: PlatformConfig) -> str:
    """The VMs' acceleration ('kvm' or 'tcg'), '' without a VM platform or when it cannot be
    had (each VM start then fails with the reason, in the experiment that tried)."""
    if not any(isinstance(p, LibvirtPlatform) for p in platforms.values()):
        return ""
    try:
        return resolve_accel(config.accel)
    except BenchError:
        return ""
