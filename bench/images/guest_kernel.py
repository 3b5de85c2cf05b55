"""The guest kernel: Debian's cloud kernel, unpacked into the cache (never installed)."""

from __future__ import annotations

import lzma
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import ImageError
from bench.images import debs

DEFAULT_PACKAGE = "linux-image-cloud-amd64"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_PT_NOTE = 4
_XEN_ELFNOTE_PHYS32_ENTRY = 18  # the PVH entry point QEMU's direct kernel boot can use


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


def boot_image(vmlinuz: Path) -> bytes:
    """What the VM boots: the kernel's own ELF image when the bzImage is XZ-compressed and the
    ELF has a PVH entry (QEMU boots it directly), else the bzImage as it is.

    Debian's generic kernel is XZ-compressed: under TCG its decompressor took ~2.6 s of every
    boot (6.8 s to the marker against 4.2 s from the ELF); the cloud kernel is LZ4.
    """
    data = vmlinuz.read_bytes()
    start = data.find(_XZ_MAGIC)
    if start < 0:
        return data
    try:
        elf = lzma.LZMADecompressor().decompress(data[start:])
    except lzma.LZMAError:
        return data
    return elf if _has_pvh_entry(elf) else data


def _has_pvh_entry(elf: bytes) -> bool:
    """An ELF64 little-endian image with a Xen PHYS32_ENTRY note (CONFIG_PVH)."""
    if elf[:6] != b"\x7fELF\x02\x01":
        return False
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        kind, _, offset, _, _, size = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if kind == _PT_NOTE and _notes_have_pvh(elf[offset : offset + size]):
            return True
    return False


def _notes_have_pvh(notes: bytes) -> bool:
    pos = 0
    while pos + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from("<III", notes, pos)
        name = notes[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
        if name == b"Xen" and kind == _XEN_ELFNOTE_PHYS32_ENTRY:
            return True
        pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False
