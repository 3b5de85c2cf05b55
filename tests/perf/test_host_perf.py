"""Targets from the foundation issue, measured rather than asserted in unit tests:
a no-op `host setup` plan well under 2 s, a cached doctor under 3 s, a cached image build
under 1 s."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.host import doctor, setup


@pytest.mark.skipif(os.geteuid() != 0, reason="host setup needs root")
def test_host_setup_noop_plan(benchmark: Any) -> None:
    todo = benchmark(setup.plan)
    assert todo.empty, todo.describe()


def test_doctor_with_cached_accel(benchmark: Any) -> None:
    checks = benchmark.pedantic(doctor.run_checks, kwargs={"probe_accel": False}, rounds=3)
    assert all(doctor.usable_platforms(checks).values())


def test_images_build_with_a_cached_spec(benchmark: Any) -> None:
    """The foundation's target: a cached spec answers in well under a second (it was a
    wall-clock assert in the integration tier; timings belong here)."""
    from bench.images import build

    first = build.build()
    again = benchmark.pedantic(build.build, rounds=5)
    assert again == first
