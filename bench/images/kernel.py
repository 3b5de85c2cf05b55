"""The guest kernel: Debian's cloud kernel, unpacked into the cache (never installed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ImageError
from bench.images import debs

DEFAULT_PACKAGE = "linux-image-cloud-amd64"


@dataclass(frozen=True)
class GuestKernel:
    vmlinuz: Path
    modules_dir: Path  # lib/modules/<version>: plain .ko files, no modules.dep
    version: str  # uname -r in the guest, e.g. 6.1.0-37-cloud-amd64


def guest_kernel(cache_root: Path, package: str = DEFAULT_PACKAGE) -> GuestKernel:
    """The current candidate of the (meta) kernel package; fetched once, then cached."""
    image_package = _image_package(package)
    tree = debs.unpacked(cache_root, image_package)
    version = image_package.removeprefix("linux-image-")
    vmlinuz = tree / "boot" / f"vmlinuz-{version}"
    candidates = (tree / "lib/modules" / version, tree / "usr/lib/modules" / version)
    modules = next((d for d in candidates if d.is_dir()), None)
    if not vmlinuz.is_file() or modules is None:
        raise ImageError(
            f"{image_package} holds no boot/vmlinuz-{version} or modules directory",
            "set [kernel] package in the image spec to a Debian linux-image package",
        )
    return GuestKernel(vmlinuz=vmlinuz, modules_dir=modules, version=version)


def _image_package(package: str) -> str:
    """A meta package (linux-image-cloud-amd64) names the versioned one in its Depends."""
    if re.match(r"^linux-image-\d", package):
        return package
    _, depends = debs.candidate(package)
    match = re.search(r"\b(linux-image-\d[^\s,(|]*)", depends)
    if match is None:
        raise ImageError(
            f"{package} depends on no versioned linux-image package",
            "set [kernel] package in the image spec to a Debian linux-image package",
        )
    return match.group(1)


def module_files(kernel: GuestKernel) -> dict[str, Path]:
    """Module name (underscores) -> its file, for every .ko[.xz|.gz] of the kernel."""
    found: dict[str, Path] = {}
    for path in kernel.modules_dir.rglob("*.ko*"):
        name = path.name.split(".ko")[0].replace("-", "_")
        found[name] = path
    return found
