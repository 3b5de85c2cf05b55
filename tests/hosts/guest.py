"""Host side of the hosts tier: carry the project in, boot the systemd guest, read results out.

The carry disk is a raw ext4 image made with mkfs.ext4 -d (no mount, no loop device): the
project's source, its dependencies installed for the guest's Python (from wheels on PyPI,
fetched here, never inside), the workload image's cache entry (so the guest imports it
instead of rebuilding it under emulation) and guest_run.sh. The guest writes /carry/out on
the same disk and powers off; debugfs copies it back out, again without mounting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from bench.core import paths
from bench.images.artifacts import ImageSet
from bench.images.host_guest import HostGuest
from bench.images.record import DISK
from bench.images.spec import load as load_image_spec
from bench.platforms.labels import METADATA_URI, RunContext, resource_name

HERE = Path(__file__).parent
ROOT = paths.checkout()
GUEST_PYTHON = "3.11"  # Debian 12's python3
# libvirt-python ships no wheel: the guest has Debian's python3-libvirt instead.
NOT_FROM_PYPI = ("libvirt-python",)
SOURCE_DIRS = ("bench", "workloads", "tests/hosts")
# doctor asks for 5 GiB free where the cache and the results are (both on this disk); the
# raw file is sparse, so the room costs nothing until written.
CARRY_SPARE_MIB = 6144
# The workload image carried in: the project's spec with only what the tiny suite and the
# OOM workload run. Importing it into dockerd, then podman, is hashing and copying under
# emulation: the full image (fio pulls in Ceph) took 390 s of the guest's time.
WORKLOAD_PACKAGES = ("sysbench", "iperf3", "procps", "iproute2", "mount", "busybox")
VCPUS, MEMORY_MIB = 2, 3584


@dataclass(frozen=True)
class Booted:
    run: RunContext
    name: str
    console: Path
    carry: Path


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps: list[str] = project["dependencies"]
    return [d for d in deps if not d.startswith(NOT_FROM_PYPI)]


def guest_site(cache_root: Path) -> Path:
    """The dependencies installed for the guest's CPython, cached by the requirement list."""
    wanted = requirements()
    key = hashlib.sha256(f"{GUEST_PYTHON} {wanted}".encode()).hexdigest()[:16]
    target = cache_root / "host-guest" / "site" / key
    if target.is_dir():
        return target
    staging = target.with_name(f".tmp-{key}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(staging), "--only-binary=:all:", "--python-version", GUEST_PYTHON,
         "--implementation", "cp", "--platform", "manylinux2014_x86_64",
         "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux_2_28_x86_64",
         *wanted],
        check=True, timeout=900,
    )  # fmt: skip
    staging.rename(target)
    return target


def workload_spec_text() -> str:
    """The project's image spec (bench/images/default.toml) with WORKLOAD_PACKAGES, as TOML."""
    data = load_image_spec().model_dump(mode="json")
    data["packages"] = list(WORKLOAD_PACKAGES)
    top = [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
        for name, table in data.items()
        if isinstance(table, dict)
    ]
    return "\n".join(top) + "\n\n" + "\n".join(tables)


def workload_images(work: Path) -> ImageSet:
    """The reduced workload image, built (or found) on the host like any image set."""
    from bench.images.build import build

    spec = work / "workload.toml"
    spec.write_text(workload_spec_text())
    return build(spec)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard links where the filesystem allows (the workload image is ~700 MB), else copies."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def make_carry(work: Path, images: ImageSet, site: Path) -> Path:
    """The carry disk: src/, site/, cache/ (the workload image entry), sources, run.sh."""
    tree = work / "carry"
    tree.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, tree / "src" / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", tree / "src")
    # The guest's default spec is the one the carried image was built from.
    (tree / "src/bench/images/default.toml").write_text(workload_spec_text())
    (tree / "src" / "tests" / "__init__.py").touch()
    _link_or_copy(site, tree / "site")
    entry = tree / "cache" / "vcbench" / "images" / "entries" / images.root.name
    entry.parent.mkdir(parents=True)
    _link_or_copy(images.root, entry)
    (entry / DISK).unlink(missing_ok=True)  # the VM platform is not run inside: 4 GiB saved
    sources = load_image_spec().sources_file()
    shutil.copy2(sources, tree / "sources")
    (tree / "sources.path").write_text(str(sources))
    shutil.copy2(HERE / "guest_run.sh", tree / "run.sh")
    (tree / "run.sh").chmod(0o755)
    used = sum(f.stat().st_size for f in tree.rglob("*") if f.is_file() and not f.is_symlink())
    disk = work / "carry.raw"
    size_mib = used // 2**20 * 2 + CARRY_SPARE_MIB
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "vcbench-carry", "-d", str(tree), str(disk),
         f"{size_mib}M"],
        check=True, timeout=600,
    )  # fmt: skip
    shutil.rmtree(tree)
    disk.chmod(0o666)
    return disk


def domain_xml(name: str, run_id: str, guest: HostGuest, overlay: Path, carry: Path,
               console: Path, accel: str) -> str:  # fmt: skip
    kind = "kvm" if accel == "kvm" else "qemu"
    cpu = "host-passthrough" if accel == "kvm" else "maximum"
    return f"""<domain type='{kind}'>
  <name>{name}</name>
  <metadata>
    <vcbench:instance xmlns:vcbench='{METADATA_URI}' run='{run_id}' name='{name}'/>
  </metadata>
  <memory unit='MiB'>{MEMORY_MIB}</memory>
  <vcpu>{VCPUS}</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{guest.kernel}</kernel>
    <initrd>{guest.initramfs}</initrd>
    <cmdline>{escape(guest.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='{cpu}' check='none' migratable='off'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{overlay}'/>
      <backingStore type='file'>
        <format type='raw'/>
        <source file='{guest.disk}'><seclabel model='dac' relabel='no'/></source>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{carry}'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <serial type='file'><source path='{console}'/><target port='0'/></serial>
    <console type='file'><source path='{console}'/><target type='serial' port='0'/></console>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>"""


@contextlib.contextmanager
def booted(conn: object, guest: HostGuest, images: ImageSet, accel: str) -> Iterator[Booted]:
    """The guest running with its carry disk; destroyed and its work dir removed on exit,
    whatever happened (labelled like any run's domain, so `vcbench gc` finds it too)."""
    run = RunContext.create()
    name = resource_name(run.run_id, "hosts")
    try:
        carry = make_carry(run.work_dir, images, guest_site(paths.cache_dir()))
        overlay = run.work_dir / "root.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(guest.disk),
             str(overlay)],
            check=True, timeout=60,
        )  # fmt: skip
        overlay.chmod(0o666)
        console = run.work_dir / "console.log"
        xml = domain_xml(name, run.run_id, guest, overlay, carry, console, accel)
        conn.createXML(xml, 0)  # type: ignore[attr-defined]
        yield Booted(run, name, console, carry)
    finally:
        _destroy(conn, name)
        shutil.rmtree(run.work_dir, ignore_errors=True)
        from bench.platforms.labels import owner_path

        owner_path(run.run_id).unlink(missing_ok=True)


def _destroy(conn: object, name: str) -> None:
    import libvirt

    # Powered off already: a transient domain is gone.
    with contextlib.suppress(libvirt.libvirtError):
        conn.lookupByName(name).destroy()  # type: ignore[attr-defined]


def wait_for_poweroff(conn: object, name: str, deadline_s: float) -> bool:
    import libvirt

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn.lookupByName(name)  # type: ignore[attr-defined]
        except libvirt.libvirtError:
            return True
        time.sleep(2)
    return False


def read_out(carry: Path, dest: Path) -> Path:
    """/out of the carry disk, copied with debugfs (no mount, no loop device)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["debugfs", "-R", f"rdump /out {dest}", str(carry)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    return dest / "out"
