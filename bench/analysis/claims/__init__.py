"""The claims of the project's study notes, each put to this run's own measurements.

`assess(run)` gives one ClaimVerdict per claim, C1..C13, always all thirteen, in order: the
verdict, why in plain words with the numbers, the figures with their intervals and n, the
caveats (TCG emulation, small samples) and the published figures to read ours beside.

Pure: a RunData in, verdicts out; it imports the results schema, the statistics and the
published figures (references), never the platforms or the runner. Every comparison is the
gate's (bench.analysis.gate, through stats.summarize); nothing here decides otherwise.

Modules: model (the claims and the verdict's shape), evidence (the run as the rules read it,
the family tally and the one rule from gate verdicts to a claim's verdict), costs (C1, C2,
C4, C5, C6, C11: what an instance is and costs), speed (C3, C7, C8, C9, C10, C13),
orchestration (C12).

Decision rules (the same words are in each verdict's reason):
- Missing data is never guessed at: "not measured in this run", with what to run.
- A comparison ("the container uses less memory than the VM") is the gate's verdict on the
  two platforms' figures; the figures one claim rests on are one family (Holm). The claim's
  verdict follows by evidence.claim_verdict: supported when as many hold as the claim needs
  (all, most, or any with none against), inconclusive while the undecided could still make
  up the difference, partly supported when some hold, not supported otherwise.
- Exact readings (sizes in bytes, kernel releases, nproc and MemTotal) are compared as they
  are: there is no sampling noise to test.
- C1 kernel: supported when the container's `uname -r` equals the host's and the VM's differs.
- C2 image size: supported when the VM's total (disk + kernel + initramfs) is at least ten
  times the container image (an order of magnitude: "MB vs GB").
- C3 start-up: the container starts faster than the VM for every start-up workload (all).
- C4 memory: the container uses less than the VM, idle and loaded (all); from the
  idle-footprint workload when the experiment did not run.
- C5 disk: the container's disk per instance after the same work is less than the VM's.
- C6 density: each container costs the host less memory than each VM (step-bytes: what
  each instance of the ramp added); the counts are one ramp each and are shown, not judged.
- C7 elasticity: every limit change takes effect faster on the container than on the VM
  (all), and within QUICK_S (the container's interval ends below it), else partly.
- C8 overhead: under TCG "not measurable here" (the VM figures measure emulation); under KVM
  the VM is worse than native on most measured metrics (supported) or some (partly).
- C9 para-virtualisation: virtio (`libvirt`) better than emulated devices
  (`libvirt-emulated`) on most disk and network metrics, and worse than native on most;
  under TCG the second half is not measurable, so at best "partly supported".
- C10 isolation: the container keeps less of its throughput beside a noisy neighbour than
  the VM (with/alone, paired by repeat) for some victim, and more for none (any).
- C11 visibility: supported when, inside the container, nproc or the memory total shows more
  than its limits while the VM shows its own; never without the VM's view.
- C12 orchestration: Docker Swarm (two nodes on this host; Kubernetes cannot run here)
  restores a killed task and scales 1 -> N faster than the VM crashes back to READY and
  scales out (all, one family), within ten seconds (the swarm's interval ends below it), else
  partly; node failure and the rolling update are shown beside them, not judged.
- C13 sandbox: gvisor starts faster than the VM on every start-up workload and is slower on
  the system-call microbenchmark (all, one family).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bench.analysis import adaptive_run, open_figures
from bench.analysis.claims import costs, resilience, speed
from bench.analysis.claims.evidence import IDLE_FOOTPRINT, RunView, missing
from bench.analysis.claims.model import (
    CLAIMS,
    EXPERIMENT_OF,
    HOW,
    UNMEASURED,
    VERDICTS,
    Claim,
    ClaimFigure,
    ClaimVerdict,
    Finding,
    Verdict,
)
from bench.analysis.claims.references import published_for
from bench.data.results import RunData

__all__ = ["CLAIMS", "HOW", "VERDICTS", "Claim", "ClaimFigure", "ClaimVerdict", "Verdict", "assess"]


# --- entry point -----------------------------------------------------------------------------


def assess(run: RunData) -> tuple[ClaimVerdict, ...]:
    """One verdict per claim, C1..C13 in order, whatever the run holds."""
    data = RunView(run)
    rules: dict[str, Callable[[RunView], Finding]] = {
        "C1": costs.kernel,
        "C2": costs.image_size,
        "C3": speed.startup,
        "C4": costs.memory,
        "C5": costs.disk,
        "C6": costs.density,
        "C7": speed.elasticity,
        "C8": speed.overhead,
        "C9": speed.paravirt,
        "C10": speed.isolation,
        "C11": costs.visibility,
        "C12": resilience.orchestration,
        "C13": speed.sandbox,
    }
    looked = {s.family.label: s for s in adaptive_run.standings(run)}
    out = []
    for claim in CLAIMS:
        outcome = _guarded(claim.id, data, rules[claim.id])
        outcome = _as_looked(claim.id, data, outcome, looked.get(claim.id))
        out.append(
            ClaimVerdict(
                id=claim.id,
                claim=claim.text,
                verdict=outcome.verdict,
                reason=outcome.reason,
                method=claim.method,
                figures=outcome.figures,
                caveats=outcome.caveats,
                references=tuple(published_for(claim.id)),
                how="" if outcome.verdict not in UNMEASURED else HOW[claim.id],
                key=outcome.key,
            )
        )
    return tuple(out)


def _guarded(claim: str, data: RunView, rule: Callable[[RunView], Finding]) -> Finding:
    """A failed experiment, or none at all, is said before any rule looks at numbers."""
    experiment = EXPERIMENT_OF.get(claim)
    if experiment is None:
        return rule(data)
    failed = data.failure(experiment)
    if not data.records(experiment) and not (claim == "C4" and data.has_workload(IDLE_FOOTPRINT)):
        if failed is not None:
            return missing(f"not measured: the {experiment} experiment failed: {failed}")
        return missing(f"the {experiment} experiment did not run in this run")
    outcome = rule(data)
    if failed is None:
        return outcome
    if outcome.verdict == "not measured in this run":
        why = f"{outcome.reason}: the {experiment} experiment failed ({failed})"
        return dataclasses.replace(outcome, reason=why)
    note = f"the {experiment} experiment failed part way ({failed}): its figures may be partial"
    return dataclasses.replace(outcome, caveats=(*outcome.caveats, note))


def _as_looked(
    claim: str, data: RunView, outcome: Finding, standing: open_figures.Standing | None
) -> Finding:
    """In an adaptive run a claim that rests on trial figures is supported only where its
    family's looks decided every figure (bench.analysis.calibration_sequential calibrates
    those). The rule itself applies the fixed alpha to the values the run stopped at, and a
    fixed-alpha test after looking is not calibrated: where the looks left a figure open, the
    claim is inconclusive and says why. Only a call in the claim's direction is held back;
    "not supported" rests on calls against the claim, which the one-sided looks never test."""
    if standing is None or outcome.verdict not in ("supported", "partly supported"):
        return outcome
    if claim == "C4" and data.records("memory"):
        return outcome  # read from the memory experiment, whose repeats are fixed
    undecided = [o for o in standing.outcomes if o.status != "DIFFERENT"]
    if not undecided:
        return outcome
    why = "; ".join(f"{o.label.split(': ', 1)[-1]} {o.text()}" for o in undecided)
    reason = (
        f"{outcome.reason} Held back: the adaptive run's looks did not call {why}, and a"
        " call at the fixed alpha on the values a run stopped at is not calibrated."
    )
    return dataclasses.replace(outcome, verdict="inconclusive", reason=reason)
