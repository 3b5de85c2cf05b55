"""Initramfs archives: a pure-Python gzip'd cpio "newc" writer, and the VM's initramfs.

No `cpio` binary is assumed on the host. The writer is general (files, directories,
symlinks, character devices); the accel probe reuses it for its own tiny guest.
"""

from __future__ import annotations

import gzip
import lzma
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from bench.core.errors import ImageError
from bench.images import debs
from bench.images.guest_kernel import GuestKernel, module_files

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Dir:
    path: str
    mode: int = 0o755


@dataclass(frozen=True)
class File:
    path: str
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class CharDev:
    path: str
    major: int
    minor: int
    mode: int = 0o600


Entry = Dir | File | Symlink | CharDev


def write_newc(entries: Iterable[Entry], out: Path, *, mtime: int = 0) -> None:
    """Write entries as a gzip'd newc archive; missing parent directories are added (0755).

    Every entry is owned by root with the same mtime, and gzip carries no timestamp, so the
    same entries always give the same bytes.
    """
    ordered = _with_parents(list(entries))
    with out.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        for ino, entry in enumerate(ordered, start=1):
            mode, data, rdev = _payload(entry)
            gz.write(_member(_name(entry.path), ino, mode, data, rdev, mtime))
        gz.write(_member(_TRAILER, 0, 0, b"", (0, 0), 0))


def _name(path: str) -> str:
    name = str(PurePosixPath("/", path)).lstrip("/")
    if not name or ".." in PurePosixPath(name).parts:
        raise ValueError(f"bad initramfs path: {path!r}")
    return name


def _with_parents(entries: list[Entry]) -> list[Entry]:
    seen: set[str] = set()
    out: list[Entry] = []
    for entry in entries:
        name = _name(entry.path)
        if name in seen:
            raise ValueError(f"initramfs path given twice: {name}")
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            if str(parent) not in seen:
                seen.add(str(parent))
                out.append(Dir(str(parent)))
        seen.add(name)
        out.append(entry)
    return out


def _payload(entry: Entry) -> tuple[int, bytes, tuple[int, int]]:
    match entry:
        case Dir(mode=mode):
            return stat.S_IFDIR | mode, b"", (0, 0)
        case File(data=data, mode=mode):
            return stat.S_IFREG | mode, data, (0, 0)
        case Symlink(target=target):
            return stat.S_IFLNK | 0o777, target.encode(), (0, 0)
        case CharDev(major=major, minor=minor, mode=mode):
            return stat.S_IFCHR | mode, b"", (major, minor)
    raise TypeError(f"not an initramfs entry: {entry!r}")


def _member(
    name: str, ino: int, mode: int, data: bytes, rdev: tuple[int, int], mtime: int
) -> bytes:
    encoded = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    header = _MAGIC + b"".join(b"%08X" % value for value in fields)
    return _pad(header + encoded) + _pad(data)


def _pad(blob: bytes) -> bytes:
    return blob + b"\0" * (-len(blob) % 4)


def busybox_entries(busybox: Path) -> list[Entry]:
    """A static busybox and the device nodes the kernel needs before devtmpfs is mounted."""
    return [
        File("bin/busybox", busybox.read_bytes(), 0o755),
        Symlink("bin/sh", "busybox"),
        CharDev("dev/console", 5, 1),
        CharDev("dev/null", 1, 3, 0o666),
        Dir("proc"),
        Dir("sys"),
    ]


def static_busybox(cache_root: Path) -> Path:
    """Debian's busybox-static binary, unpacked into the cache (not taken from the host)."""

    path = debs.unpacked(cache_root, "busybox-static") / "bin" / "busybox"
    if not path.is_file():
        raise ImageError("busybox-static holds no bin/busybox", "run `apt-get update`")
    return path


def module_entries(kernel: GuestKernel, modules: Sequence[str]) -> list[Entry]:
    """The named modules as lib/modules/<name>.ko (decompressed), plus the order to load them."""
    files = module_files(kernel)
    missing = [m for m in modules if m.replace("-", "_") not in files]
    if missing:
        raise ImageError(
            f"kernel {kernel.version} has no module {', '.join(missing)}",
            "fix [kernel] modules in the image spec",
        )
    entries: list[Entry] = [
        File(f"lib/modules/{m}.ko", _module_bytes(files[m.replace("-", "_")])) for m in modules
    ]
    entries.append(File("etc/vcbench-modules", "".join(f"{m}\n" for m in modules).encode()))
    return entries


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko"):
        return data
    raise ImageError(f"cannot decompress kernel module {path.name}", "use a kernel with .ko/.xz")


def vm_initramfs(kernel: GuestKernel, busybox: Path, modules: Sequence[str], out: Path) -> None:
    """The VM's initramfs: load the modules (virtio, SATA, e1000), mount the root disk named by
    root= (/dev/vda on virtio-blk, /dev/sda on SATA: the VM profile decides), switch_root.

    Kernel command line it reads: root=DEV (default /dev/vda), ro (default rw),
    vcbench.init=PATH (default /usr/local/sbin/vcbench-init). On failure it prints
    `VCBENCH-FAILED <why>` on the console and powers off.
    """
    init = (resources.files("bench.images") / "initramfs_init.sh").read_bytes()
    entries = [
        *busybox_entries(busybox),
        File("init", init, 0o755),
        Dir("newroot"),
        *module_entries(kernel, modules),
    ]
    write_newc(entries, out)
