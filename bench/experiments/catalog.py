"""Experiment name -> class, spelled out: adding an experiment is one line here.

Classes are imported only when chosen, so a run that measures the kernel never imports the
density ramp; a suite naming an experiment this checkout lacks is refused before anything
starts, with the rest of the choice checked the same way (settings known, of the right type).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from bench.core.errors import BenchError
from bench.experiments.context import Experiment

# name -> "module:Class" under bench.experiments, in the order a run measures them: the cheap
# ones first, so an interrupted run has most of the claims.
EXPERIMENTS: dict[str, str] = {
    "kernel": "kernel_release:KernelExperiment",
    "visibility": "visibility:VisibilityExperiment",
    "image-size": "image_size:ImageSizeExperiment",
    "disk-per-instance": "disk:DiskPerInstanceExperiment",
    "memory": "memory:MemoryExperiment",
    "density": "density:DensityExperiment",
    "elasticity": "elasticity:ElasticityExperiment",
    "isolation": "isolation:IsolationExperiment",
    "orchestration": "orchestration:OrchestrationExperiment",
}
Settings = Mapping[str, Any]


class ExperimentChoiceError(BenchError):
    """A suite or --experiments choice that cannot run; nothing has started."""


def experiment_class(name: str) -> type[Experiment]:
    if name not in EXPERIMENTS:
        raise ExperimentChoiceError(
            f"unknown experiment {name!r}", f"choose from {', '.join(EXPERIMENTS)}"
        )
    module, _, cls = EXPERIMENTS[name].partition(":")
    try:
        found: type[Experiment] = getattr(
            importlib.import_module(f"bench.experiments.{module}"), cls
        )
    except (ModuleNotFoundError, AttributeError):
        raise ExperimentChoiceError(
            f"experiment {name!r} is not in this checkout (no bench.experiments.{module}.{cls})",
            "update vcbench, or leave it out of --experiments and the suite",
        ) from None
    return found


def make(name: str) -> Experiment:
    return experiment_class(name)()


def defaults_of(name: str) -> dict[str, Any]:
    return dict(getattr(experiment_class(name), "defaults", {}))


def resolve(name: str, given: Settings, origin: str) -> dict[str, Any]:
    """The experiment's defaults with `given` over them, each key known and of its type."""
    defaults = defaults_of(name)
    for key, value in given.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ExperimentChoiceError(
                f"{origin}: experiments.{name}.{key}: unknown setting", f"known: {known}"
            )
        problem = _type_problem(value, defaults[key])
        if problem:
            raise ExperimentChoiceError(f"{origin}: experiments.{name}.{key}: {problem}")
    return defaults | dict(given)


def _type_problem(value: Any, default: Any) -> str:
    # bool is an int in Python: a flag must stay a flag and a count a count.
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        return f"expected {type(default).__name__}, got {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
        return f"must be positive, got {value!r}"
    return ""


def choose(
    table: Mapping[str, Settings], names: Sequence[str] | None, origin: str
) -> tuple[tuple[str, dict[str, Any]], ...]:
    """What a run measures: the suite's table, or `names` (from --experiments) with the
    suite's settings where it has them. Always in registry order."""
    unknown = sorted(set(table) - set(EXPERIMENTS))
    if unknown:
        raise ExperimentChoiceError(
            f"{origin}: experiments: unknown experiment {unknown[0]!r}",
            f"choose from {', '.join(EXPERIMENTS)}",
        )
    wanted = list(table) if names is None else list(names)
    for name in wanted:
        experiment_class(name)
    return tuple(
        (name, resolve(name, table.get(name, {}), origin)) for name in EXPERIMENTS if name in wanted
    )


def parse_names(text: str) -> list[str]:
    """--experiments: 'none', or names separated by commas."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return []
    if not names:
        raise ExperimentChoiceError(
            "--experiments: no experiment named", "give names separated by commas, or none"
        )
    return names
