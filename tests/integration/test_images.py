"""The images issue's "done when": one build, three platforms, the same userland.

The VM is booted under TCG (domain type qemu) whatever the host offers: what is checked
here is the disk, kernel, initramfs and guest init, not acceleration.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from bench.core.errors import ImageError
from bench.images import build as images_build
from bench.images import spec
from bench.images.artifacts import READY_MARKER, ImageSet

pytestmark = pytest.mark.slow

READY = re.compile(rf"{READY_MARKER} ([0-9a-f]{{64}})")
PROBE = "vcbench-ready; sysbench --version"
BOOT_DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def images(docker_client: Any) -> ImageSet:
    """Built once (about a minute cold); later runs answer from the cache."""
    return images_build.build()


@pytest.mark.skipif(os.geteuid() != 0, reason="the native chroot needs root")
def test_the_three_platforms_run_the_same_userland(
    images: ImageSet, docker_client: Any, libvirt_conn: Any, no_leaks: None
) -> None:
    native = run_native(images)
    container = run_docker(images, docker_client)
    vm = boot_vm(images, libvirt_conn)
    assert native == container == vm, {"native": native, "docker": container, "libvirt": vm}
    digest, version = native
    assert digest == images.digest
    assert version.startswith("sysbench 1.")


def test_vm_static_address_from_the_cmdline_and_a_clean_poweroff(
    images: ImageSet, libvirt_conn: Any, no_leaks: None
) -> None:
    import libvirt

    cmdline = "vcbench.ip=10.0.2.77/24,10.0.2.2 vcbench.hostname=guest-77"
    with booted_vm(images, libvirt_conn, cmdline) as (dom, console):
        out = agent_exec(dom, ["/bin/sh", "-c", "hostname; ip -4 -br addr show eth0; ip route"])
        assert out.startswith("guest-77\n")
        assert re.search(r"eth0\s+UP\s+10\.0\.2\.77/24", out), out
        assert "default via 10.0.2.2 dev eth0" in out
        # qemu-ga's guest-shutdown runs /sbin/shutdown, i.e. vcbench-poweroff: the init
        # remounts / read-only and powers off, and the transient domain disappears.
        with contextlib.suppress(libvirt.libvirtError):  # the agent may vanish mid-reply
            libvirt_qemu_command(dom, {"execute": "guest-shutdown"})
        end = time.monotonic() + 30
        while domain_exists(libvirt_conn, dom):
            assert time.monotonic() < end, f"the guest did not power off:\n{console.text}"
            time.sleep(0.2)
        console.wait_for(re.compile("vcbench-init: powering off"), 10)
        assert "cannot remount" not in console.text


def domain_exists(conn: Any, dom: Any) -> bool:
    return dom.name() in {d.name() for d in conn.listAllDomains()}


def test_digest_is_the_tarball_sha256_and_the_tree_says_it(images: ImageSet) -> None:
    with images.rootfs_tar.open("rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == images.digest
    assert (images.tree / "etc/vcbench-rootfs").read_text().strip() == images.digest
    assert images.disk_raw.stat().st_mode & 0o004, "libvirt needs a world-readable disk"


def test_a_cached_spec_builds_nothing(images: ImageSet) -> None:
    """How fast the cached answer is, is tests/perf's (test_host_perf) business."""
    made = [p.stat().st_mtime_ns for p in (images.rootfs_tar, images.disk_raw)]
    again = images_build.build()
    assert again == images
    assert [p.stat().st_mtime_ns for p in (images.rootfs_tar, images.disk_raw)] == made


def test_docker_image_holds_exactly_the_manifest(images: ImageSet, docker_client: Any) -> None:
    """`docker save` gives the image's one layer as Docker stores it (no container init layer)."""
    manifest = json.loads(images.manifest.read_text())
    saved = docker_client.images.get(images.docker_tag).save(chunk_size=1 << 20)
    with tarfile.open(fileobj=ChunkReader(saved), mode="r|") as outer:  # type: ignore[call-overload]
        layers = []
        for member in outer:  # a stream: each layer must be read as it passes
            if member.name.endswith("layer.tar"):
                layer = outer.extractfile(member)
                assert layer is not None
                layers.append(hash_tar(layer))
    assert layers == [manifest]


@pytest.mark.skipif(shutil.which("debugfs") is None, reason="debugfs (e2fsprogs) not installed")
def test_vm_disk_holds_exactly_the_manifest(images: ImageSet, tmp_path: Path) -> None:
    manifest = json.loads(images.manifest.read_text())
    out = tmp_path / "disk"
    out.mkdir()
    subprocess.run(
        ["debugfs", "-R", f"rdump / {out}", str(images.disk_raw)], check=True, capture_output=True
    )
    on_disk = {
        "/" + str(p.relative_to(out)): sha256(p)
        for p in out.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
    on_disk.pop("/lost+found", None)
    assert on_disk == manifest


def test_unknown_package_fails_in_one_line_and_leaves_the_cache_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad_spec = tmp_path / "spec.toml"
    default = spec.load().model_dump(mode="json")
    bad_spec.write_text(
        "\n".join(
            [
                f'suite = "{default["suite"]}"',
                f"source_date_epoch = {default['source_date_epoch']}",
                'packages = ["sysbench", "vcbench-no-such-package"]',
                "[kernel]",
                f"modules = {json.dumps(default['kernel']['modules'])}",
            ]
        )
    )
    with pytest.raises(ImageError) as failure:
        images_build.build(bad_spec)
    assert "vcbench-no-such-package" in failure.value.message
    assert "spec" in failure.value.hint
    images_dir = tmp_path / "cache/vcbench/images"
    assert not (images_dir / "entries").exists()
    assert not list((images_dir / "tmp").iterdir())


def test_docker_down_fails_before_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/vcbench-absent.sock")
    with pytest.raises(ImageError, match="dockerd is not reachable") as failure:
        images_build.build()
    assert "vcbench host setup" in failure.value.hint
    assert not (tmp_path / "cache/vcbench/images/entries").exists()


# --- the three platforms, as plainly as possible -----------------------------------------


def parse_probe(output: str) -> tuple[str, str]:
    """(digest from the ready line, sysbench --version line)."""
    match = READY.search(output)
    assert match, f"no {READY_MARKER} line in {output!r}"
    version = next(line for line in output.splitlines() if line.startswith("sysbench "))
    return match.group(1), version.strip()


def run_native(images: ImageSet) -> tuple[str, str]:
    done = subprocess.run(
        ["chroot", str(images.tree), "/bin/sh", "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    return parse_probe(done.stdout)


def run_docker(images: ImageSet, client: Any) -> tuple[str, str]:
    container = client.containers.run(
        images.docker_tag,
        ["sh", "-c", PROBE],
        detach=True,
        network_mode="none",
        labels={"vcbench.run": f"test-images-{uuid.uuid4().hex[:8]}"},
    )
    try:
        assert container.wait(timeout=60)["StatusCode"] == 0
        return parse_probe(container.logs().decode())
    finally:
        container.remove(force=True)


def boot_vm(images: ImageSet, conn: Any) -> tuple[str, str]:
    """Without vcbench.ip the guest asks DHCP (QEMU's user network answers)."""
    with booted_vm(images, conn) as (dom, console):
        out = agent_exec(dom, ["/bin/sh", "-c", f"{PROBE}; ip -4 -br addr show eth0"])
        assert re.search(r"eth0\s+UP\s+10\.0\.2\.\d+/", out), f"no DHCP lease: {out!r}"
        digest, version = parse_probe(out)
        assert f"{READY_MARKER} {digest}" == console.wait_for(READY, 0)
        return digest, version


@contextlib.contextmanager
def booted_vm(images: ImageSet, conn: Any, cmdline: str = "") -> Iterator[tuple[Any, ConsoleLog]]:
    """Boot, wait for the marker on the console; destroy on the way out."""
    work = Path(tempfile.mkdtemp(prefix="vcbench-test-", dir="/var/tmp"))
    work.chmod(0o755)  # QEMU runs as libvirt's user and opens the overlay in here
    overlay = work / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", images.disk_raw, overlay],
        check=True,
    )
    for shared in (images.kernel, images.initramfs):  # libvirt chowns a domain's own copies
        shutil.copyfile(shared, work / shared.name)
    name = f"vcbench-test-images-{uuid.uuid4().hex[:8]}"
    xml = domain_xml(name, images, work, cmdline)
    console = ConsoleLog(work / "console.log")
    dom = conn.createXML(xml, 0)
    try:
        console.wait_for(READY, BOOT_DEADLINE_S)
        yield dom, console
    finally:
        with_destroyed(dom)
        shutil.rmtree(work, ignore_errors=True)


def domain_xml(name: str, images: ImageSet, work: Path, cmdline: str = "") -> str:
    # QEMU runs as libvirt's unprivileged user with default DAC labelling, which chowns only
    # what is in work (the overlay, the kernel and initramfs copies): the shared raw disk is
    # given as the backing store with relabel='no', so libvirt neither probes nor chowns it.
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{work / images.kernel.name}</kernel>
    <initrd>{work / images.initramfs.name}</initrd>
    <cmdline>console=ttyS0 root=/dev/vda rw quiet {cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{work / "overlay.qcow2"}'/>
      <backingStore type='file'>
        <format type='raw'/>
        <source file='{images.disk_raw}'><seclabel model='dac' relabel='no'/></source>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'>
      <log file='{work / "console.log"}' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>"""


class ConsoleLog:
    """The serial console as virtlogd writes it (the serial's <log file>).

    No client holds the pty: a console stream read in a thread once lost the end of the
    ready line in CI, and nothing the test does here can hold back what the guest prints.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""

    def wait_for(self, pattern: re.Pattern[str], deadline_s: float) -> str:
        end = time.monotonic() + deadline_s
        while not (match := pattern.search(self.text)):
            if time.monotonic() >= end:
                pytest.fail(f"no {pattern.pattern!r} on the console; it said:\n{self.text[-3000:]}")
            time.sleep(0.05)
        return match.group(0)


def agent_exec(dom: Any, argv: list[str], deadline_s: float = 60.0) -> str:
    import libvirt

    ask = functools.partial(libvirt_qemu_command, dom)

    end = time.monotonic() + deadline_s
    while True:  # qemu-ga daemonizes before its port is open
        try:
            ask({"execute": "guest-ping"})
            break
        except libvirt.libvirtError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
    pid = ask(
        {
            "execute": "guest-exec",
            "arguments": {"path": argv[0], "arg": argv[1:], "capture-output": True},
        }
    )["pid"]
    while time.monotonic() < end:
        status = ask({"execute": "guest-exec-status", "arguments": {"pid": pid}})
        if status["exited"]:
            assert status["exitcode"] == 0, status
            return base64.b64decode(status.get("out-data", "")).decode()
        time.sleep(0.1)
    pytest.fail(f"{argv} did not finish in the guest within {deadline_s:g} s")


def libvirt_qemu_command(dom: Any, command: dict[str, Any]) -> Any:
    import libvirt_qemu

    reply = libvirt_qemu.qemuAgentCommand(dom, json.dumps(command), 10, 0)
    return json.loads(reply)["return"]


def with_destroyed(dom: Any) -> None:
    import libvirt

    with contextlib.suppress(libvirt.libvirtError):  # already gone: it powered off
        dom.destroy()


def hash_tar(stream: IO[bytes]) -> dict[str, str]:
    """{"/path": sha256} of the regular files (hard links included) in a tar stream."""
    hashes: dict[str, str] = {}
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.islnk():  # a hard link's target came earlier in the stream
                hashes[absolute(member.name)] = hashes[absolute(member.linkname)]
            elif member.isfile():
                data = archive.extractfile(member)
                assert data is not None
                hashes[absolute(member.name)] = sha256_of(data)
    return hashes


def absolute(tar_name: str) -> str:
    return "/" + tar_name.removeprefix("./").removeprefix("/")


class ChunkReader:
    """A file-like read() over an iterator of byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        if size < 0:
            size = len(self.buffer)
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return sha256_of(f)


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def test_a_missing_tool_fails_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ImageError, match=r"mmdebstrap, mkfs\.ext4, .* not installed") as failure:
        images_build.build()
    assert "vcbench host setup" in failure.value.hint
    assert not (tmp_path / "cache/vcbench/images").exists()
