"""`vcbench doctor`: one row per check, the fix for each failure, and which platforms work."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from bench.core import dockerd, paths, podman_cli
from bench.core.errors import BenchError, first_line
from bench.core.proc import tool_version
from bench.host import accel, daemons, kvm, runsc
from bench.host.availability import gvisor_problem, podman_problem
from bench.host.packages import PACKAGE_PLATFORMS, missing_packages

Status = Literal["ok", "warn", "fail"]
PLATFORMS = ("native", "docker", "podman", "gvisor", "libvirt")
SETUP_FIX = "run `vcbench host setup`"
PYTHON_DEPS = (
    "click",
    "docker",
    "libvirt",
    "psutil",
    "pandas",
    "scipy",
    "jinja2",
    "pydantic",
    "rich",
)

MIN_FREE_GIB = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    platforms: tuple[str, ...] = ()  # the platforms a failure here makes unusable


def check_python_deps() -> Check:
    broken = []
    for module in PYTHON_DEPS:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            broken.append(f"{module} ({exc})")
    if broken:
        return Check(
            "python",
            "fail",
            "cannot import " + ", ".join(broken),
            "pip install -e . (inside the project's environment)",
            PLATFORMS,
        )
    return Check("python", "ok", f"{len(PYTHON_DEPS)} dependencies import")


def check_packages() -> Check:
    missing = missing_packages()
    if missing:
        broken = {p for name in missing for p in PACKAGE_PLATFORMS.get(name, PLATFORMS)}
        platforms = tuple(p for p in PLATFORMS if p in broken)
        return Check("packages", "fail", "missing: " + " ".join(missing), SETUP_FIX, platforms)
    return Check("packages", "ok", "host packages installed")


def check_runsc() -> Check:
    """gvisor needs runsc installed and dockerd running it as a runtime."""

    problem = gvisor_problem()
    if problem:
        fix = f"{SETUP_FIX} (installs runsc, registers it in {runsc.DAEMON_JSON}, reloads dockerd)"
        return Check("runsc", "fail", problem, fix, ("gvisor",))
    version = tool_version([runsc.binary() or runsc.RUNTIME, "--version"])
    entry = runsc.registered()
    return Check(
        "runsc",
        "ok",
        f"{version}, dockerd runtime runsc, platform {runsc.runtime_flags(entry)['platform']},"
        f" network: {runsc.network_label(entry)}",
    )


def check_podman() -> Check:

    problem = podman_problem()
    if problem:
        return Check("podman", "fail", problem, f"{SETUP_FIX} (installs podman)", ("podman",))
    try:
        info = podman_cli.host_info()
    except BenchError as exc:
        return Check("podman", "fail", exc.message, exc.hint or SETUP_FIX, ("podman",))
    return Check(
        "podman",
        "ok",
        f"podman {info.version}, runtime {info.runtime}, cgroup manager {info.cgroup_manager},"
        f" cgroup {info.cgroup_version}",
    )


def check_root() -> Check:
    if os.geteuid() != 0:
        return Check(
            "root",
            "fail",
            "not root: chroots, cgroups and /dev/kvm need it",
            "run vcbench as root (sudo)",
            ("native",),
        )
    return Check("root", "ok", "running as root")


def check_docker() -> Check:

    try:
        client = dockerd.connect(timeout=10)
        info = client.info()
        client.close()
    except ImportError as exc:
        return Check("docker", "fail", f"docker SDK missing ({exc})", "pip install -e .",
                     ("docker",))  # fmt: skip
    except BenchError as exc:
        return Check("docker", "fail", exc.message, SETUP_FIX, ("docker", "gvisor"))
    detail = (
        f"dockerd {info.get('ServerVersion')}, storage {info.get('Driver')}, "
        f"cgroup driver {info.get('CgroupDriver')}, cgroup v{info.get('CgroupVersion')}"
    )
    return Check("docker", "ok", detail)


def check_libvirt() -> Check:
    try:
        import libvirt
    except ImportError as exc:
        return Check(
            "libvirt",
            "fail",
            f"libvirt-python missing ({exc})",
            "pip install -e . (after `vcbench host setup` installed libvirt-dev)",
            ("libvirt",),
        )
    uri = os.environ.get("VCBENCH_LIBVIRT_URI", "qemu:///system")
    if uri.startswith("qemu:///system") and not daemons.answers(daemons.by_name("libvirtd")):
        return Check(
            "libvirt", "fail", f"libvirtd not reachable for {uri}", SETUP_FIX, ("libvirt",)
        )
    try:
        conn = libvirt.open(uri)
        lib, hyp = conn.getLibVersion(), conn.getVersion()
        conn.close()
    except libvirt.libvirtError as exc:
        return Check("libvirt", "fail", f"{uri}: {first_line(exc)}", SETUP_FIX, ("libvirt",))
    return Check(
        "libvirt", "ok", f"{uri}, libvirt {libvirt_version(lib)}, QEMU {libvirt_version(hyp)}"
    )


def check_accel(probe: bool = True) -> Check:
    if kvm.needs_fix():
        return Check(
            "accel",
            "warn",
            f"{kvm.KVM_DEVICE} is not group kvm, mode 660: libvirtd re-probes QEMU on every call",
            SETUP_FIX,
        )
    try:
        result = accel.detect() if probe else accel.cached()
    except BenchError as exc:
        return Check("accel", "warn", f"not probed: {exc.message}", exc.hint)
    if result is None:
        return Check("accel", "warn", "not probed yet", "run `vcbench doctor`")
    if result.accel == "kvm":
        return Check("accel", "ok", f"kvm ({result.reason})")
    return Check(
        "accel",
        "warn",
        f"tcg: VM figures are emulation, not virtualisation ({result.reason})",
        "use a host with working KVM for VM figures that mean virtualisation",
    )


def check_cgroups() -> Check:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return Check("cgroups", "ok", "cgroup v2 (unified)")
    if (root / "unified").is_dir():
        return Check("cgroups", "ok", "cgroup v1 with a unified hierarchy beside it (hybrid)")
    return Check("cgroups", "ok", "cgroup v1")


def check_disk() -> list[Check]:
    checks = []
    for label, where in (("cache disk", paths.cache_dir()), ("results disk", paths.results_dir())):
        existing = next(p for p in [where, *where.resolve().parents] if p.exists())
        free_gib = shutil.disk_usage(existing).free / 2**30
        status: Status = "ok" if free_gib >= MIN_FREE_GIB else "fail"
        fix = "" if status == "ok" else f"free space under {existing} (needs {MIN_FREE_GIB:g} GiB)"
        checks.append(
            Check(
                label,
                status,
                f"{free_gib:.1f} GiB free under {where}",
                fix,
                PLATFORMS if status == "fail" else (),
            )
        )
    return checks


def check_mmdebstrap() -> Check:
    if shutil.which("mmdebstrap") is None:
        return Check(
            "mmdebstrap",
            "fail",
            "mmdebstrap not found: images cannot be built",
            SETUP_FIX,
            PLATFORMS,
        )
    return Check("mmdebstrap", "ok", shutil.which("mmdebstrap") or "")


def run_checks(probe_accel: bool = True) -> list[Check]:
    singles: list[Callable[[], Check]] = [
        check_python_deps,
        check_packages,
        check_root,
        check_docker,
        check_runsc,
        check_podman,
        check_libvirt,
        lambda: check_accel(probe_accel),
        check_cgroups,
        check_mmdebstrap,
    ]
    return [c() for c in singles] + check_disk()


def usable_platforms(checks: list[Check]) -> dict[str, bool]:
    broken = {p for c in checks if c.status == "fail" for p in c.platforms}
    return {p: p not in broken for p in PLATFORMS}


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {"checks": [asdict(c) for c in checks], "platforms": usable_platforms(checks)}


def libvirt_version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
