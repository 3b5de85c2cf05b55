"""The rootfs: mmdebstrap -> one tarball whose sha256 is the userland's identity.

Identity scheme: `rootfs.tar` is exactly what mmdebstrap wrote (reproducible thanks to
SOURCE_DATE_EPOCH), and digest = sha256(rootfs.tar), checkable with `sha256sum`. A file
cannot hold its own hash, so /etc/vcbench-rootfs (the digest) is the one file added *after*
hashing: written into the extracted tree (native chroot, VM disk) and appended to the
stream Docker imports. Everything else every platform runs is byte for byte the tarball.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

from bench.core.errors import ImageError
from bench.core.proc import run
from bench.images.artifacts import ROOTFS_ID_FILE
from bench.images.spec import ImageSpec

HELPER_DIR = "usr/local/sbin"
MMDEBSTRAP_TIMEOUT_S = 900
_UNREACHABLE = (
    r"Failed to fetch|Temporary failure resolving|Could not resolve|Unable to connect"
    r"|Connection failed|Network is unreachable"
)


def helper_scripts() -> dict[str, bytes]:
    """The guest-side scripts (package data) by their name in the rootfs."""
    folder = resources.files("bench.images") / "guest"
    return {
        entry.name.removesuffix(".sh"): entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name.endswith(".sh")
    }


def mmdebstrap(spec: ImageSpec, sources: Path, out: Path) -> None:
    """Build the tarball; expected apt failures become one-line ImageErrors."""
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is not installed", "run `vcbench host setup`")
    with tempfile.TemporaryDirectory(prefix="vcbench-helpers-") as tmp:
        helpers = []
        for name, data in sorted(helper_scripts().items()):
            path = Path(tmp) / name
            path.write_bytes(data)
            path.chmod(0o755)
            helpers.append(str(path))
        argv = [
            "mmdebstrap",
            f"--variant={spec.variant}",
            "--include=" + ",".join(spec.packages),
            f"--customize-hook=copy-in {' '.join(helpers)} /{HELPER_DIR}",
            # qemu-ga's guest-shutdown runs /sbin/shutdown; there is no systemd to answer it.
            '--customize-hook=[ -e "$1/usr/sbin/shutdown" ] || '
            'ln -s ../local/sbin/vcbench-poweroff "$1/usr/sbin/shutdown"',
            # mmdebstrap copies the host's resolv.conf and hostname in: the host's DNS must
            # not become part of the userland (nor of its digest).
            '--customize-hook=rm -f "$1/etc/resolv.conf"',
            f'--customize-hook=echo {spec.hostname} > "$1/etc/hostname"; '
            'chmod 0644 "$1/etc/hostname"',
            spec.suite,
            str(out),
            str(sources),
        ]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(spec.source_date_epoch)}
        returncode, stderr = _run_letting_it_clean_up(argv, env)
    if returncode != 0:
        raise explain_mmdebstrap_failure(stderr, spec.suite, sources)


def _run_letting_it_clean_up(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Like proc.run, but an interrupted build gets SIGTERM and time to unmount.

    mmdebstrap (root mode) bind-mounts /dev, /proc and /sys into its temporary chroot; the
    SIGKILL subprocess.run sends on Ctrl-C or timeout would leave those mounts behind.
    """
    child = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        _, stderr = child.communicate(timeout=MMDEBSTRAP_TIMEOUT_S)
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    return child.returncode, stderr


def explain_mmdebstrap_failure(stderr: str, suite: str, sources: Path) -> ImageError:
    """mmdebstrap's stderr -> the cause and the fix, in one line."""
    unknown = re.findall(
        r"Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate",
        stderr,
    )
    if unknown:
        names = sorted({a or b for a, b in unknown})
        return ImageError(
            f"package {', '.join(names)} is not in {suite} (per {sources})",
            "fix `packages` in the image spec",
        )
    if re.search(r"No space left on device", stderr):
        return ImageError("the disk is full while building the rootfs", "free some disk space")
    if re.search(_UNREACHABLE, stderr):
        return ImageError(
            f"apt sources unreachable ({_last_error(stderr)})",
            f"check the network and the mirrors in {sources}",
        )
    return ImageError(f"mmdebstrap failed ({_last_error(stderr)})", "see `vcbench --debug`")


def _last_error(stderr: str) -> str:
    errors = [line.strip() for line in stderr.splitlines() if line.startswith(("E:", "W:"))]
    lines = errors or [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def extract(tar: Path, tree: Path) -> None:
    """Unpack with owners, modes, xattrs and device nodes (root), as Docker would."""
    tree.mkdir()
    run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tar, "-C", tree],
        timeout=600,
    )


def write_identity(tree: Path, digest: str) -> None:
    target = tree / ROOTFS_ID_FILE
    target.write_text(digest + "\n")
    target.chmod(0o644)


def identity_member(digest: str, mtime: int) -> bytes:
    """/etc/vcbench-rootfs as tar member bytes (header + padded data), to append to a stream."""
    data = (digest + "\n").encode()
    info = tarfile.TarInfo("./" + ROOTFS_ID_FILE)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    padding = b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    return info.tobuf(format=tarfile.PAX_FORMAT) + data + padding


def data_end(tar: Path) -> int:
    """Offset where the archive's end-of-archive blocks start (after the last member)."""
    with tarfile.open(tar) as archive:
        for _ in archive:
            pass
        return archive.offset


def write_manifest(tree: Path, out: Path) -> int:
    """JSON {"/path": sha256} of every regular file in the tree; returns the file count."""
    hashes: dict[str, str] = {}
    for folder, _, names in os.walk(tree):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                hashes["/" + str(path.relative_to(tree))] = sha256_file(path)
    out.write_text(json.dumps(dict(sorted(hashes.items())), indent=0))
    return len(hashes)


def tree_bytes(tree: Path) -> int:
    return sum(
        (Path(folder) / n).lstat().st_size for folder, _, names in os.walk(tree) for n in names
    )
