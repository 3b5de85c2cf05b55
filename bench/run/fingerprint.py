"""The environment a run measured: everything that must match before two runs compare.

Read best-effort: a field that cannot be read says why instead of failing the run, since a
missing governor file on a VM host is a fact about that host, not an error.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import __version__
from bench.core import dockerd, paths
from bench.core.proc import tool_version
from bench.host import runsc
from bench.host.accel import cached, detect
from bench.host.doctor import check_cgroups, libvirt_version
from bench.images.artifacts import ImageSet
from bench.platforms.gvisor import accel_of
from bench.platforms.libvirt import connect
from bench.platforms.podman import versions as podman_versions
from bench.platforms.protocol import Limits

CPU = Path("/sys/devices/system/cpu")
# The flags a reader of a virtualisation benchmark asks about first.
FLAGS_OF_NOTE = ("vmx", "svm", "hypervisor", "avx2", "avx512f", "aes", "constant_tsc")


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as exc:  # a fingerprint never fails the run
        return f"unknown ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def cpuinfo() -> dict[str, Any]:
    text = Path("/proc/cpuinfo").read_text()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {
        "model": fields.get("model name", "unknown"),
        "count": os.cpu_count(),
        "usable": len(os.sched_getaffinity(0)),
        "flags_of_note": sorted(flags & set(FLAGS_OF_NOTE)),
        "flags_count": len(flags),
    }


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else "not exposed"


def frequency_policy() -> dict[str, str]:
    boost = CPU / "cpufreq" / "boost"
    no_turbo = CPU / "intel_pstate" / "no_turbo"
    turbo = "not exposed"
    if no_turbo.exists():
        turbo = "off" if _read(no_turbo) == "1" else "on"
    elif boost.exists():
        turbo = "on" if _read(boost) == "1" else "off"
    return {"governor": _read(CPU / "cpu0" / "cpufreq" / "scaling_governor"), "turbo": turbo}


def memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def cgroup_layout() -> str:

    return check_cgroups().detail


def docker_versions() -> dict[str, str]:

    client = dockerd.connect(timeout=10)
    try:
        version = client.version()
        info = client.info()
    finally:
        client.close()
    found = {
        "dockerd": str(version.get("Version")),
        "storage": str(info.get("Driver")),
        "cgroup_driver": str(info.get("CgroupDriver")),
    }
    for part in version.get("Components", []):
        name = str(part.get("Name", "")).lower()
        if name in ("containerd", "runc"):
            found[name] = str(part.get("Version"))
    return found


def gvisor_versions() -> dict[str, str]:
    """runsc's version and the flags dockerd runs it with: its platform is how the sentry
    traps system calls (ptrace, kvm, systrap), which sets what a system call costs."""

    entry = runsc.dockerd_entry()
    flags = runsc.runtime_flags(entry)
    return {
        "runsc": tool_version([runsc.binary() or runsc.RUNTIME, "--version"]),
        "platform": flags["platform"],
        "network": flags["network"],
        "network_stack": runsc.network_label(entry),
        "runtime_path": str((entry or {}).get("path", "")),
        "accel": accel_of(flags["platform"]),
        "runtime_args": " ".join((entry or {}).get("runtimeArgs") or []),
    }


def libvirt_versions() -> dict[str, str]:

    conn = connect()
    try:
        return {
            "libvirt": libvirt_version(conn.getLibVersion()),
            "qemu": libvirt_version(conn.getVersion()),
            "uri": conn.getURI(),
        }
    finally:
        conn.close()


def accel(asked: str = "auto") -> dict[str, Any]:
    """The accel this run's VMs use, as libvirt will resolve it (resolve_accel): --accel tcg
    is TCG whatever the host could do, so a TCG figure is never labelled KVM. `detected` is
    what the host's boot probe found (not probed for --accel tcg: it costs up to a minute)."""
    if asked == "tcg":
        found = cached()
        could = f"; this host's probe found {found.accel}" if found else ""
        return {
            "accel": "tcg",
            "asked": asked,
            "reason": f"asked with --accel tcg{could}",
            "detected": found.accel if found else "not probed",
        }
    result = detect()
    return {
        "accel": result.accel,
        "asked": asked,
        "reason": result.reason,
        "detected": result.accel,
    }


def git_commit() -> dict[str, str]:
    root = paths.checkout()
    if not (root / ".git").exists():
        return {"commit": "not a git checkout"}
    head = tool_version(["git", "-C", str(root), "rev-parse", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return {"commit": head, "dirty": "yes" if dirty.stdout.strip() else "no"}


def collect(
    images: ImageSet, limits: Limits, platforms: tuple[str, ...], asked_accel: str = "auto"
) -> dict[str, Any]:
    uname = platform.uname()
    found: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "host_kernel": uname.release,
        "arch": uname.machine,
        "cpu": _safe(cpuinfo),
        "frequency": _safe(frequency_policy),
        "memory_mib": _safe(memory_mib),
        "cgroups": _safe(cgroup_layout),
        "python": platform.python_version(),
        "vcbench": __version__,
        "git": _safe(git_commit),
        "rootfs_digest": images.digest,
        "guest_kernel": images.kernel_version,
        "limits": {
            "vcpus": limits.vcpus,
            "memory_mib": limits.memory_mib,
            "cpuset": limits.cpuset_text,
        },
        "host_tools": {
            "iperf3": _safe(lambda: tool_version(["iperf3", "--version"])),
            "sockperf": _safe(lambda: tool_version(["sockperf", "--version"])),
        },
    }
    if {"docker", "gvisor"} & set(platforms):
        found["docker"] = _safe(docker_versions)
    if "gvisor" in platforms:
        found["gvisor"] = _safe(gvisor_versions)
    if "podman" in platforms:
        found["podman"] = _safe(lambda: podman_versions(images))
    if "libvirt" in platforms:
        found["libvirt"] = _safe(libvirt_versions)
        found["accel"] = _safe(lambda: accel(asked_accel))
    else:
        found["accel"] = {"accel": "none", "reason": "no VM in this run"}
    return found
