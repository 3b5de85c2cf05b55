"""The accel probe's guest: vcbench's own guest kernel with a busybox initramfs that prints a
marker and powers off. Booting it proves (or disproves) that a stock kernel runs under KVM."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.core import paths
from bench.images import spec as image_spec
from bench.images.guest_kernel import guest_kernel
from bench.images.initramfs import File, busybox_entries, static_busybox, write_newc


def probe_guest(cache_root: Path, marker: str) -> tuple[Path, Path, str]:
    """(kernel, initramfs, kernel version); the initramfs is built once per marker + busybox."""
    kernel = guest_kernel(cache_root, image_spec.load().kernel.package)
    busybox = static_busybox(cache_root)
    init = f"#!/bin/sh\n/bin/busybox echo {marker}\n/bin/busybox poweroff -f\n".encode()
    key = hashlib.sha256(init + busybox.read_bytes()).hexdigest()[:16]
    out = cache_root / "probe" / f"initramfs-{key}.cpio.gz"
    if not out.is_file():
        with paths.atomic_path(out) as tmp:
            write_newc([*busybox_entries(busybox), File("init", init, 0o755)], tmp)
    return kernel.vmlinuz, out, kernel.version
