"""Integration tests talk to the real dockerd and libvirtd that `vcbench host setup` started.

Locally a missing daemon skips them; with VCBENCH_REQUIRE_INTEGRATION=1 (CI, `nox -s tests`)
a missing daemon is a failure, so a green CI run always means the real daemons were used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

LIBVIRT_URI = os.environ.get("VCBENCH_LIBVIRT_URI", "qemu:///system")


def unavailable(what: str, why: str) -> None:
    message = f"{what} unreachable ({why}); run `vcbench host setup`"
    if os.environ.get("VCBENCH_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def connect_docker() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        unavailable("dockerd", str(exc).splitlines()[0])
    return client


def connect_libvirt() -> Any:
    import libvirt

    try:
        return libvirt.open(LIBVIRT_URI)
    except libvirt.libvirtError as exc:
        unavailable("libvirtd", str(exc).splitlines()[0])


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = connect_docker()
    yield client
    client.close()


@pytest.fixture(scope="session")
def libvirt_conn() -> Iterator[Any]:
    conn = connect_libvirt()
    yield conn
    conn.close()


def vcbench_containers(client: Any) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": "vcbench.run"}))


def vcbench_domains(conn: Any) -> list[str]:
    return [d.name() for d in conn.listAllDomains() if d.name().startswith("vcbench-")]


@pytest.fixture
def no_leaks(docker_client: Any, libvirt_conn: Any) -> Iterator[None]:
    """Fails the test if it leaves a vcbench container or domain behind."""
    before_c = {c.id for c in vcbench_containers(docker_client)}
    before_d = set(vcbench_domains(libvirt_conn))
    yield
    leaked_c = {c.id for c in vcbench_containers(docker_client)} - before_c
    leaked_d = set(vcbench_domains(libvirt_conn)) - before_d
    assert not leaked_c, f"leaked containers: {sorted(leaked_c)}"
    assert not leaked_d, f"leaked domains: {sorted(leaked_d)}"
