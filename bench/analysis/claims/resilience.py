"""C12: an orchestrator restores and scales containers in seconds; a VM's recovery costs its boot.

Measured by the orchestration experiment on a two-node Docker Swarm (Kubernetes cannot run
here) and its VM counterpart on the same host. Judged: the figures both sides have, with the
same definitions (recovery-s: a crash until the replacement answers or is READY; scale-out-s:
1 -> N until all answer or are READY), one family through the gate. Shown beside them, not
judged (the VM has no counterpart without an orchestrator): Swarm's default restart delay,
node failure, the rolling update and the requests it failed.
"""

from __future__ import annotations

from typing import Final

from bench.analysis.claims.evidence import (
    CONTAINER,
    GATE_RULE,
    TCG_SPEED,
    RunView,
    few_caveats,
    judged_text,
    missing,
    record_rows,
    record_stats,
    with_interval,
)
from bench.analysis.claims.model import Finding
from bench.analysis.claims.speed import faster_within

EXPERIMENT: Final = "orchestration"
JUDGED: Final = ("recovery-s", "scale-out-s")  # measured the same way on both sides
IN_SECONDS: Final = 10.0  # "in seconds": the container's interval ends below ten seconds
NOT_KUBERNETES: Final = (
    "Kubernetes is not available here: no node agent (kubelet, k3s, kind) is packaged in"
    " Debian and no registry is reachable; Docker Swarm mode, a real orchestrator with the same"
    " primitives (replicas, restart policies, rolling updates, rescheduling), stands in for it"
)
NO_MESH: Final = (
    "no IPVS in this kernel: Swarm's routing mesh and VIPs cannot work, so each task publishes"
    " its own host-mode port and a client must pick the node (the rolling update's failed"
    " requests count that)"
)
NO_VM_ORCHESTRATOR: Final = (
    "no VM orchestrator here (KubeVirt or OpenStack would be one): the harness restarts the"
    " crashed VM (its QEMU killed) and starts the new ones, which is the best an orchestrator"
    " could do; what it costs is the boot"
)


def orchestration(data: RunView) -> Finding:
    records = data.records(EXPERIMENT)
    found = record_stats(records)
    figures = tuple(s.figure() for s in found.values())
    if not any(p == CONTAINER for p, _ in found):
        return missing("no swarm figure measured on docker", figures)
    rows = [r for r in record_rows(records) if r["metric"] in JUDGED]
    faster = faster_within(rows, JUDGED, IN_SECONDS)
    if faster is None:
        return missing("needs the VM's recovery and scale-out, to compare with", figures)
    judged, t, verdict, slow = faster.judged, faster.tally, faster.verdict, faster.slow
    parts = [f"{c.metric}: swarm {judged_text(c, v)}" for c, v in judged]
    shown = [
        f"{s.metric} {with_interval(s)}"
        for (p, m), s in sorted(found.items())
        if p == CONTAINER and m not in JUDGED and not m.startswith("swarm-")
    ]
    rule = (
        "the swarm restores a killed task and scales out faster than the VM crashes back to"
        f" READY and scales out, by {GATE_RULE}, and within {IN_SECONDS:g} s (the swarm's"
        " interval ends below it)"
    )
    reason = "; ".join(parts) + f". {t.text()}"
    if slow:
        reason += f"; not within {IN_SECONDS:g} s: " + ", ".join(c.metric for c in slow)
    if shown:
        reason += ". Shown, not judged: " + "; ".join(shown)
    caveats = [*few_caveats(*(s for pair in judged for s in pair)), NOT_KUBERNETES, NO_MESH]
    caveats.append(NO_VM_ORCHESTRATOR)
    if data.tcg:
        caveats.append(TCG_SPEED + ": the VM's boots are emulated, slower than under KVM")
    c, v = judged[0]
    key = f"{c.metric} swarm {with_interval(c)} vs VM {with_interval(v)}"
    return Finding(verdict, reason + f". Rule: {rule}.", figures, tuple(caveats), key)
