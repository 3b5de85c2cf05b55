"""What every claim experiment gets and gives: a context in, ExperimentRecords out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bench.data.results import ExperimentRecord
from bench.images.artifacts import ImageSet
from bench.platforms.protocol import Limits, Platform


@dataclass(frozen=True)
class ExperimentContext:
    """The run's open platforms (name -> platform, VM profile variants included), the limits
    every instance gets, the images they share and the acceleration the VMs run under."""

    platforms: Mapping[str, Platform]
    limits: Limits
    images: ImageSet
    accel: str
    settings: Mapping[str, Any]  # per-experiment knobs from the suite (budgets, deadlines)


class Experiment(Protocol):
    """Registered by name in bench/experiments/catalog.py and made with no arguments.

    A class may also set `defaults: ClassVar[Mapping[str, int | float | str | bool]]`: the
    settings a suite may give it (any other key, or a value of another type, is refused
    before the run starts); ctx.settings is the defaults with the suite's values over them.
    """

    name: str  # the ExperimentRecord.experiment of everything it yields
    claims: tuple[str, ...]  # the claim ids it informs (bench.analysis.claims), e.g. ("C6",)

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        """Measure, yielding records as they come (they are written at once, so a crash
        keeps what was measured); leave nothing running behind, whatever happens."""
        ...
