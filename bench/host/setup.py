"""`vcbench host setup`: install what is missing, fix /dev/kvm, start the daemons. Idempotent."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.core import dockerd as dockerd_api
from bench.core.errors import HostError
from bench.core.proc import run, tail
from bench.host import daemons, kvm, runsc
from bench.host.packages import TEST_PACKAGES, host_packages, install_command, missing_packages

APT_TIMEOUT_S = 900.0


@dataclass
class SetupPlan:
    """What the host lacks; empty means nothing to do."""

    packages: list[str] = field(default_factory=list)
    fix_kvm: bool = False
    daemons: list[daemons.Daemon] = field(default_factory=list)
    register_runsc: bool = False  # runsc is (or is about to be) installed, not in daemon.json
    # (or there as an earlier vcbench's host-network entry: re-probed)

    @property
    def empty(self) -> bool:
        return not (self.packages or self.fix_kvm or self.daemons or self.register_runsc)

    def describe(self) -> list[str]:
        lines = []
        if self.packages:
            lines.append(f"install packages: {' '.join(self.packages)}")
        if self.fix_kvm:
            lines.append(f"give {kvm.KVM_DEVICE} to group {kvm.KVM_GROUP}, mode 660")
        if self.register_runsc:
            lines.append(f"register the runsc runtime in {runsc.DAEMON_JSON}")
        lines += [f"start {d.name}" for d in self.daemons]
        return lines


def plan(test_tools: bool = False) -> SetupPlan:
    wanted = host_packages() + (list(TEST_PACKAGES) if test_tools else [])
    packages = missing_packages(wanted)
    return SetupPlan(
        packages=packages,
        fix_kvm=kvm.needs_fix(),
        daemons=[d for d in daemons.DAEMONS if not daemons.answers(d)],
        register_runsc=runsc.needs_registering()
        and (runsc.binary() is not None or runsc.RUNTIME in packages),
    )


def apply(todo: SetupPlan) -> list[str]:
    """Carry out a plan as root; returns what was done, in order."""
    if os.geteuid() != 0:
        raise HostError(
            "host setup needs root: " + "; ".join(todo.describe()),
            "run `sudo vcbench host setup`",
        )
    done: list[str] = []
    if todo.packages:
        _apt_install(todo.packages)
        done.append(f"installed {' '.join(todo.packages)}")
    # Before libvirtd starts: with a root-only device it re-probes QEMU on every call.
    if todo.fix_kvm or kvm.needs_fix():
        kvm.fix()
        done.append(f"gave {kvm.KVM_DEVICE} to group {kvm.KVM_GROUP}, mode 660")
    done += _register_runsc()
    for daemon in daemons.DAEMONS:  # re-checked: an install may have started some
        if not daemons.answers(daemon):
            daemons.start(daemon)
            done.append(f"started {daemon.name} (log: {daemons.log_hint(daemon)})")
    return done


def _register_runsc() -> list[str]:
    """runsc into daemon.json (only when missing there), then a running dockerd reloaded by
    SIGHUP, never restarted; a dockerd started after this reads the file itself."""
    line = runsc.register()
    if line is None:
        return []
    dockerd = daemons.by_name("dockerd")
    if not daemons.answers(dockerd):
        return [line, "dockerd is not running: it reads the runsc runtime when it starts"]

    client = dockerd_api.connect(timeout=30, error=HostError)
    try:
        return [line, runsc.reload_dockerd(client)]
    finally:
        client.close()


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    hint = "check the apt sources and network, then run `vcbench host setup` again"
    update = run(["apt-get", "update", "-qq"], env=env, timeout=APT_TIMEOUT_S, check=False)
    if update.returncode != 0:
        raise HostError(f"apt-get update failed ({tail(update.stderr)})", hint)
    done = run(install_command(packages), env=env, timeout=APT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise HostError(f"apt-get install failed ({tail(done.stderr or done.stdout)})", hint)


def run_setup(echo: Callable[[str], None] = print, *, test_tools: bool = False) -> None:
    """Plan, apply and report; shared by `vcbench host setup` and `python -m bench.host setup`.

    test_tools adds what only the test suite needs (a headless browser)."""
    started = time.monotonic()
    todo = plan(test_tools)
    if todo.empty:
        echo(f"host ready: nothing to change ({time.monotonic() - started:.2f} s)")
        return
    for line in apply(todo):
        echo(f"- {line}")
    echo(f"host ready ({time.monotonic() - started:.1f} s)")
