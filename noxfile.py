"""Sessions: bench (the main job), tests (unit + integration on the real daemons), lint, perf.

Each session first runs the project's own host setup (standard library only), because the
Python dependencies themselves need host packages to build (libvirt-python: libvirt-dev).
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "tests"]
EXIT_REGRESSION = 3  # bench.cli.compare's; the noxfile runs before bench is installed
nox.options.reuse_existing_virtualenvs = True


def _host_setup(session: nox.Session, *extra: str) -> None:
    if os.geteuid() == 0:
        session.run("python", "-m", "bench.host", "setup", *extra)
    else:
        session.warn("not root: skipping `vcbench host setup`; integration tests need its daemons")


@nox.session
def bench(session: nox.Session) -> None:
    """The main job: host setup, the images (cached), the suite (default: full), the summary.

    Options pass through to `vcbench run`: nox -s bench -- --suite quick --platforms docker
    """
    _host_setup(session)
    session.install("-e", ".")
    try:
        session.run("vcbench", "run", *session.posargs)
    except nox.command.CommandFailed as exc:
        # nox ends every failed session with exit 1; a regression (vcbench's exit 3) must stay
        # distinct for CI, so it leaves nox with its own code.
        if getattr(exc, "return_code", None) == EXIT_REGRESSION:
            session.log("a figure regressed against the previous comparable run: exit 3")
            raise SystemExit(EXIT_REGRESSION) from exc
        raise


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, integration and fault-injection tests; the last two fail (not skip) when a daemon
    is missing."""
    _host_setup(session, "--test-tools")
    session.install("-e", ".[test]")
    env = {"VCBENCH_REQUIRE_INTEGRATION": os.environ.get("VCBENCH_REQUIRE_INTEGRATION", "1")}
    tiers = ("tests/unit", "tests/integration", "tests/faults")
    session.run("pytest", *tiers, *session.posargs, env=env)


@nox.session
def hosts(session: nox.Session) -> None:
    """The hosts tier: vcbench inside a systemd + cgroup v2 guest host (TCG: 9-14 min)."""
    _host_setup(session)
    session.install("-e", ".[test]")
    env = {"VCBENCH_REQUIRE_INTEGRATION": os.environ.get("VCBENCH_REQUIRE_INTEGRATION", "1")}
    session.run("pytest", "tests/hosts", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) on everything, mypy --strict on bench/, and the layer
    contract (import-linter, pyproject's [tool.importlinter]): no module imports upwards."""
    _host_setup(session)
    session.install("-e", ".[lint]")
    session.run("ruff", "check", "bench", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "bench", "tests", "noxfile.py")
    session.run("mypy", "bench")
    session.run("lint-imports", "--no-cache")


@nox.session
def perf(session: nox.Session) -> None:
    """pytest-benchmark: harness overheads and startup latency on the real daemons."""
    _host_setup(session)
    session.install("-e", ".[test]")
    session.run(
        "pytest", "tests/perf", "--benchmark-only", "--benchmark-autosave", *session.posargs
    )
