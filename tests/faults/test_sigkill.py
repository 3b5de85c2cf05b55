"""`vcbench run` killed with SIGKILL mid-run (no cleanup can run): `vcbench gc` removes what
it left, and `--resume` completes the run without repeating a finished trial."""

from __future__ import annotations

from typing import Any

from bench.data.results import load_run
from tests.faults.conftest import ENV, Runs, sigkilled_run
from tests.integration.platform_support import leftovers_of
from tests.support.runs import vcbench


def test_sigkill_then_gc_then_resume_completes_without_repeats(
    runs: Runs, docker_client: Any, libvirt_conn: Any
) -> None:
    directory = sigkilled_run(runs)
    before = load_run(directory)
    assert len(before.done()) >= 3 and not before.warnings
    assert leftovers_of(directory.name, docker_client, libvirt_conn)  # what gc is for
    swept = vcbench("gc", env=ENV)
    assert swept.returncode == 0, swept.stderr
    assert leftovers_of(directory.name, docker_client, libvirt_conn) == []
    resumed = runs.resume(directory.name[:15])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = load_run(directory)
    ids = [t.trial_id for t in after.trials]
    assert len(ids) == len(set(ids)) == 2 * 2 * 2, ids  # nothing repeated, nothing missing
    assert before.done() <= after.done()
    assert {t.status for t in after.trials} == {"ok"}
    assert {e.kind for e in after.events} >= {"resumed", "finished"}
