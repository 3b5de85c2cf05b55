"""An instance for an experiment: the run's limits, removed on leaving whatever happens."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bench.core.errors import PlatformError
from bench.experiments.context import ExperimentContext
from bench.platforms.protocol import Instance, InstanceSpec

# As the suite's trials (RunPlan.ready_timeout_s): a TCG guest on a busy host boots slowly.
READY_TIMEOUT_S = 180.0


@contextmanager
def started(ctx: ExperimentContext, platform: str) -> Iterator[Instance]:
    spec = InstanceSpec(ctx.limits, ready_timeout_s=READY_TIMEOUT_S)
    with ctx.platforms[platform].start(spec) as instance:
        yield instance


def checked(instance: Instance, argv: Sequence[str], timeout: float = 120.0) -> str:
    """argv's stdout; a non-zero exit is an error naming the command and its stderr."""
    result = instance.exec(argv, timeout)
    if result.exit_code != 0:
        raise PlatformError(
            f"{instance.name}: `{' '.join(argv)}` exited {result.exit_code}:"
            f" {result.stderr.strip()[:200]}"
        )
    return result.stdout
