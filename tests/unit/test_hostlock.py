"""The busy-host check: what else runs is a reason; a check that fails says why."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bench.platforms.labels import RUN_LABEL
from bench.run.host_lock import busy_reasons


class Containers:
    def __init__(self, found: list[Any] | Exception) -> None:
        self.found = found

    def list(self) -> list[Any]:
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def client(found: list[Any] | Exception) -> Any:
    return SimpleNamespace(containers=Containers(found))


def test_other_containers_are_named_ours_are_not() -> None:
    ours = SimpleNamespace(name="vcbench-x", labels={RUN_LABEL: "r"})
    theirs = SimpleNamespace(name="web", labels={})
    reasons = [r for r in busy_reasons(client([ours, theirs])) if "container" in r]
    assert reasons == ["1 other container(s) running: web"]


def test_a_failed_check_names_its_error_instead_of_passing() -> None:
    reasons = busy_reasons(client(ConnectionError("socket closed\nmore")))
    assert "could not list other container(s): ConnectionError: socket closed" in reasons
