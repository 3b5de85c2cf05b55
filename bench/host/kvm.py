"""/dev/kvm ownership: libvirtd re-probes QEMU on every API call while the device is root-only."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from bench.core.proc import run

KVM_DEVICE = Path("/dev/kvm")
KVM_GROUP = "kvm"
KVM_MODE = 0o660


def needs_fix(device: Path = KVM_DEVICE) -> bool:
    """True when the device exists but is not group kvm, mode 660."""
    try:
        st = device.stat()
    except FileNotFoundError:
        return False
    try:
        gid = grp.getgrnam(KVM_GROUP).gr_gid
    except KeyError:
        return True
    return st.st_gid != gid or stat.S_IMODE(st.st_mode) != KVM_MODE


def fix(device: Path = KVM_DEVICE) -> None:
    """Give the device to group kvm with mode 660, creating the group if the host lacks it."""
    try:
        gid = grp.getgrnam(KVM_GROUP).gr_gid
    except KeyError:
        run(["groupadd", "--system", KVM_GROUP])
        gid = grp.getgrnam(KVM_GROUP).gr_gid
    os.chown(device, -1, gid)
    os.chmod(device, KVM_MODE)
