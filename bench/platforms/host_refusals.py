"""What a platform cannot run on this host, whatever the workload's own table says.

A workload's `unsupported` table is about the workload and a platform everywhere; this is about
this host's setup of a platform (the flags its runtime was registered with). Both end the same
way: shown by `vcbench workloads`, recorded as a skip by a run, never scheduled to fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from bench.core.errors import BenchError
from bench.core.workload import Workload
from bench.host import runsc

GVISOR_HOST_NETWORK = (
    "this host's runsc runs on the host network stack (--network=host), where a blocking"
    " socket read can return EAGAIN: the server's control connection breaks mid-test."
    " `vcbench host setup` registers gVisor's own netstack wherever runsc allows it"
)


@cache
def gvisor_network() -> str | None:
    """The --network dockerd runs runsc with, or None (no dockerd, no runsc runtime)."""
    try:
        entry = runsc.dockerd_entry()
    except BenchError:
        return None
    return None if entry is None else runsc.runtime_flags(entry)["network"]


def refusal(workload: Workload, base: str) -> str | None:
    """Why this host's `base` platform cannot run the workload, or None."""
    if base == "gvisor" and workload.server and gvisor_network() == "host":
        return GVISOR_HOST_NETWORK
    return None


def with_host_refusals(workloads: Iterable[Workload], bases: Sequence[str]) -> list[Workload]:
    """The workloads, each with this host's refusals among `bases` added to `unsupported`."""
    out = []
    for w in workloads:
        found = {
            base: why
            for base in bases
            if base in w.platforms
            and base not in w.unsupported
            and (why := refusal(w, base)) is not None
        }
        out.append(w.model_copy(update={"unsupported": {**w.unsupported, **found}}) if found else w)
    return out
