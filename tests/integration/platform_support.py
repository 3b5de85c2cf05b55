"""Shared by the platform integration tests: the built images and a gc check for one run."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import libvirt

from bench.core.errors import BenchError
from bench.images.artifacts import ImageSet
from bench.platforms import gc
from tests.integration.conftest import unavailable


def built_images() -> ImageSet:
    from bench.images.build import current

    try:
        return current()
    except BenchError as exc:
        unavailable("the vcbench images", exc.one_line())
        raise


def leftovers_of(run_id: str, docker_client: Any, libvirt_conn: Any) -> list[str]:
    """What `vcbench gc --dry-run` would report for this run, were it dead now."""
    sweep = gc.find(docker_client, libvirt_conn, include_alive=True)
    return [item.describe() for item in sweep.found if item.run_id == run_id]


def wait_for_domain(conn: Any, name: str, child: subprocess.Popen[str], deadline: float) -> None:
    """Until libvirt runs the domain a vcbench child process is starting; the child must live."""
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        try:
            if conn.lookupByName(name).isActive():
                return
        except libvirt.libvirtError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{name} did not start")
