"""The hosts tier: vcbench on a real systemd + cgroup v2 host, which these machines are not.

A Debian 12 guest with systemd as PID 1 and only the unified hierarchy is built with the
project's own image machinery (bench/images/host_guest.py) and booted by libvirt (TCG here,
KVM where the accel probe proves it). Inside, a oneshot unit runs guest_run.sh: host setup,
doctor, a tiny run on native, docker, podman and gvisor, the collectors against
memory.current, a native OOM, gc. The results come back on the carry disk and are checked
here. Nested virtualisation is not needed: the VM platform is not run inside.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.host import accel
from bench.host.packages import APPARMOR_PACKAGE, APT_PACKAGES
from bench.images import host_guest
from tests.hosts.guest import booted, read_out, wait_for_poweroff, workload_images
from tests.integration.conftest import connect_libvirt

# Everything inside the guest, under TCG on 2 shared cores; the whole tier must stay within
# about 20 minutes of CI, image build included.
GUEST_DEADLINE_S = float(os.environ.get("VCBENCH_HOSTS_DEADLINE_S", "1080"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hosts/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)


@dataclass(frozen=True)
class GuestRun:
    out: Path
    console: str
    accel: str
    build_s: float
    guest_s: float
    steps: dict[str, dict[str, Any]]

    def text(self, step: str, stream: str = "out") -> str:
        path = self.out / "steps" / f"{step}.{stream}"
        return path.read_text(errors="replace") if path.is_file() else ""

    def explain(self, step: str) -> str:
        return (
            f"step {step}: {self.steps.get(step)}\n--- stdout\n{self.text(step)[-3000:]}"
            f"\n--- stderr\n{self.text(step, 'err')[-3000:]}"
        )


@pytest.fixture(scope="session")
def guest_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestRun]:
    conn = connect_libvirt()
    started = time.monotonic()
    images = workload_images(tmp_path_factory.mktemp("spec"))
    # Debian's kernel enforces AppArmor in the guest, as on a user's host: apparmor with it.
    guest = host_guest.build([*APT_PACKAGES, APPARMOR_PACKAGE])
    build_s = time.monotonic() - started
    chosen = accel.detect().accel
    dest = tmp_path_factory.mktemp("hosts")
    try:
        with booted(conn, guest, images, chosen) as boot:
            begun = time.monotonic()
            off = wait_for_poweroff(conn, boot.name, GUEST_DEADLINE_S)
            guest_s = time.monotonic() - begun
            console = boot.console.read_text(errors="replace") if boot.console.is_file() else ""
            if not off:
                pytest.fail(
                    f"the guest did not power off within {GUEST_DEADLINE_S:.0f} s; console:\n"
                    + console[-4000:],
                    pytrace=False,
                )
            out = read_out(boot.carry, dest)
    finally:
        conn.close()
    steps_file = out / "steps.jsonl"
    lines = steps_file.read_text().splitlines() if steps_file.is_file() else []
    steps = {s["step"]: s for s in map(json.loads, lines)}
    yield GuestRun(out, console, chosen, build_s, guest_s, steps)
