"""Is hardware acceleration really usable for a guest? Only a real boot can tell.

On some hosts /dev/kvm exists, libvirt lists kvm in its capabilities, and still a stock
guest kernel hangs under KVM (nested "kvm-pvm" devices). So the probe boots the very guest
kernel vcbench uses, with a tiny busybox initramfs that prints a marker, under accel=kvm
with a deadline. If that fails, the same guest is booted under TCG as a control: only then
is "KVM does not work here" a finding rather than a broken probe. The answer is cached per
host boot, since neither the device nor the kernel changes before a reboot.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from bench.core import paths
from bench.core.errors import HostError
from bench.host.kvm import KVM_DEVICE

Accel = Literal["kvm", "tcg"]
QEMU = "qemu-system-x86_64"
PROBE_MARKER = "VCBENCH-PROBE-OK"
KVM_DEADLINE_S = 20.0
TCG_DEADLINE_S = 60.0


@dataclass(frozen=True)
class AccelResult:
    accel: Accel
    reason: str
    boot_id: str
    kvm_boot_s: float | None = None  # time to the probe marker under KVM, when it came
    tcg_boot_s: float | None = None  # the control boot under TCG, when it was needed
    guest_kernel: str = ""

    @property
    def flagged(self) -> bool:
        """TCG is usable but VM figures under it are emulation, not virtualisation."""
        return self.accel != "kvm"


def detect(*, force: bool = False) -> AccelResult:
    """The accel for this host boot: cached, or probed now (a few seconds to ~a minute)."""
    cached = _read_cache()
    if cached is not None and not force:
        return cached
    result = probe()
    _write_cache(result)
    return result


def cached() -> AccelResult | None:
    """The result of an earlier probe in this host boot, without probing."""
    return _read_cache()


def probe() -> AccelResult:
    boot = paths.boot_id()
    unusable = device_problem()
    if unusable:
        return AccelResult("tcg", unusable, boot)
    kernel, initramfs, version = _probe_guest()
    kvm_s = boot_to_marker("kvm", kernel, initramfs, KVM_DEADLINE_S)
    if kvm_s is not None:
        return AccelResult(
            "kvm", f"a guest booted under KVM in {kvm_s:.2f} s", boot, kvm_s, guest_kernel=version
        )
    tcg_s = boot_to_marker("tcg", kernel, initramfs, TCG_DEADLINE_S)
    if tcg_s is None:
        raise HostError(
            "the accel probe guest booted neither under KVM nor under TCG",
            f"check that {QEMU} runs (`{QEMU} --version`) and rebuild with `vcbench images build`",
        )
    reason = (
        f"{KVM_DEVICE} is present, but the guest kernel did not boot under KVM within "
        f"{KVM_DEADLINE_S:g} s while it booted under TCG in {tcg_s:.1f} s: nested or "
        "paravirtual KVM that cannot run a stock kernel"
    )
    return AccelResult("tcg", reason, boot, None, tcg_s, guest_kernel=version)


def device_problem(device: Path = KVM_DEVICE) -> str:
    """Why /dev/kvm cannot be used at all, or '' when it can be opened."""
    if not device.exists():
        return (
            f"{device} does not exist (no hardware virtualisation, or the kvm module is not loaded)"
        )
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"{device} cannot be opened ({exc.strerror})"
    os.close(fd)
    return ""


def boot_to_marker(accel: Accel, kernel: Path, initramfs: Path, deadline_s: float) -> float | None:
    """Seconds from QEMU's start to the marker on its serial port, or None by the deadline."""
    if shutil.which(QEMU) is None:
        raise HostError(f"{QEMU} is not installed", "run `vcbench host setup`")
    argv = [
        QEMU, "-accel", accel, "-machine", "q35", "-m", "256", "-smp", "1",
        "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio",
        "-no-reboot", "-kernel", str(kernel), "-initrd", str(initramfs),
        "-append", "console=ttyS0 panic=-1 quiet",
    ]  # fmt: skip
    started = time.monotonic()
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert child.stdout is not None
    seen = b""
    try:
        while (left := started + deadline_s - time.monotonic()) > 0:
            ready, _, _ = select.select([child.stdout], [], [], left)
            chunk = os.read(child.stdout.fileno(), 4096) if ready else b""
            if ready and not chunk:
                return None  # QEMU exited (e.g. aborted on an MSR) before the marker
            seen = (seen + chunk)[-4096:]
            if PROBE_MARKER.encode() in seen:
                return time.monotonic() - started
        return None
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def _probe_guest() -> tuple[Path, Path, str]:
    """The guest kernel vcbench boots, and a busybox initramfs that prints the marker."""
    from bench.images.probe_guest import probe_guest  # deferred: doctor imports this module

    return probe_guest(paths.cache_dir(), PROBE_MARKER)


def _cache_file() -> Path:
    return paths.cache_dir() / "accel" / f"{paths.boot_id()}.json"


def _read_cache() -> AccelResult | None:
    try:
        data = json.loads(_cache_file().read_text())
        return AccelResult(**data)
    except (OSError, ValueError, TypeError):
        return None


def _write_cache(result: AccelResult) -> None:
    with paths.atomic_path(_cache_file()) as tmp:
        tmp.write_text(json.dumps(asdict(result), indent=2))
