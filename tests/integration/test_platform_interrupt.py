"""Ctrl-C while a VM boots: the domain, its overlay and the run's network all go away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.platforms import labels
from tests.integration.conftest import vcbench_domains
from tests.integration.platform_support import built_images, leftovers_of, wait_for_domain
from tests.support.runs import sigint_as_at_a_terminal

EXEC = [sys.executable, "-m", "bench.cli", "exec", "--platform", "libvirt"]


def _wait_for_new_domain(conn: Any, before: set[str], child: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        new = set(vcbench_domains(conn)) - before
        if new:
            return new.pop()
        time.sleep(0.05)
    raise AssertionError(f"no domain appeared; vcbench said: {child.communicate()}")


def test_sigint_mid_boot_leaves_nothing(
    docker_client: Any, libvirt_conn: Any, no_leaks: None
) -> None:
    built_images()
    before = set(vcbench_domains(libvirt_conn))
    child = subprocess.Popen(
        [*EXEC, "--accel", "tcg", "--memory", "256", "--", "true"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        preexec_fn=sigint_as_at_a_terminal,
    )  # fmt: skip
    try:
        name = _wait_for_new_domain(libvirt_conn, before, child)
        # inside the boot: QEMU runs the guest, which takes seconds under TCG to be ready
        wait_for_domain(libvirt_conn, name, child, time.monotonic() + 120)
        assert child.poll() is None, "the VM finished booting before the interrupt"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert "interrupted" in err
    run_id = labels.run_of(name)
    assert run_id is not None
    assert name not in vcbench_domains(libvirt_conn)
    assert leftovers_of(run_id, docker_client, libvirt_conn) == []
    dry = subprocess.run(
        [sys.executable, "-m", "bench.cli", "gc", "--dry-run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run_id not in dry.stdout, dry.stdout
