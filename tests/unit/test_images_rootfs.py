"""Rootfs helpers: the manifest, the identity appended to the Docker stream, apt errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from importlib import resources
from pathlib import Path

import pytest

from bench.images import docker_image, rootfs

DIGEST = "0123456789abcdef" * 4


def test_manifest_hashes_regular_files_only(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "usr/bin/tool").write_bytes(b"abc")
    os.link(tree / "usr/bin/tool", tree / "usr/bin/tool-again")
    (tree / "usr/bin/link").symlink_to("tool")
    (tree / "empty").write_bytes(b"")
    out = tmp_path / "manifest.json"
    assert rootfs.write_manifest(tree, out) == 3
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert json.loads(out.read_text()) == {
        "/empty": empty,
        "/usr/bin/tool": abc,
        "/usr/bin/tool-again": abc,
    }


def make_tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_docker_stream_is_the_tarball_plus_the_identity(tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar"
    make_tar(tar, {"./etc/os-release": b"debian\n", "./usr/bin/x": b"x" * 700})
    stream = b"".join(docker_image._stream(tar, DIGEST, 1700000000, chunk=100))
    # Byte for byte the tarball up to its end blocks: nothing in it is rewritten.
    assert stream[: rootfs.data_end(tar)] == tar.read_bytes()[: rootfs.data_end(tar)]
    with tarfile.open(fileobj=io.BytesIO(stream)) as archive:
        names = archive.getnames()
        identity = archive.extractfile("./etc/vcbench-rootfs")
        assert identity is not None
        assert identity.read() == f"{DIGEST}\n".encode()
        member = archive.getmember("./etc/vcbench-rootfs")
    assert names == ["./etc/os-release", "./usr/bin/x", "./etc/vcbench-rootfs"]
    assert member.mode == 0o644 and member.mtime == 1700000000 and member.uid == 0


def test_the_identity_file_in_the_tree(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    rootfs.write_identity(tmp_path, DIGEST)
    assert (tmp_path / "etc/vcbench-rootfs").read_text() == DIGEST + "\n"


@pytest.mark.parametrize(
    ("stderr", "says", "hint"),
    [
        ("E: Unable to locate package frobnicate\nE: apt-get failed", "package frobnicate", "spec"),
        ("E: Package 'fio' has no installation candidate", "package fio is not in", "spec"),
        (
            "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  "
            "Temporary failure resolving 'deb.debian.org'\nE: apt-get update failed",
            "apt sources unreachable",
            "network",
        ),
        ("tar: ./usr/lib/x: Cannot write: No space left on device", "disk is full", "free"),
        ("E: something else broke", "mmdebstrap failed (E: something else broke)", "--debug"),
    ],
)
def test_mmdebstrap_failures_become_one_line(stderr: str, says: str, hint: str) -> None:
    error = rootfs.explain_mmdebstrap_failure(stderr, "bookworm", Path("/etc/apt/x.sources"))
    assert says in error.message and hint in error.hint
    assert "\n" not in error.one_line()


def test_helper_scripts_are_shipped_executable_shell() -> None:
    scripts = rootfs.helper_scripts()
    assert set(scripts) == {"vcbench-init", "vcbench-ready", "vcbench-udhcpc", "vcbench-poweroff"}
    assert all(body.startswith(b"#!/bin/sh\n") for body in scripts.values())


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash (Debian's /bin/sh) not installed")
def test_guest_scripts_parse_under_dash() -> None:
    for name, body in rootfs.helper_scripts().items():
        done = subprocess.run(["dash", "-n"], input=body, capture_output=True)
        assert done.returncode == 0, f"{name}: {done.stderr.decode()}"


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox not installed")
def test_initramfs_init_parses_under_busybox_sh() -> None:
    body = (resources.files("bench.images") / "initramfs_init.sh").read_bytes()
    assert body.startswith(b"#!/bin/busybox sh\n")
    done = subprocess.run(["busybox", "sh", "-n"], input=body, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
