"""The one list of host packages vcbench needs, and what tells whether each is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.core.proc import run

# Debian/Ubuntu package -> why vcbench needs it. One list, in one place: setup installs it,
# doctor checks it, CI gets it through `vcbench host setup`.
APT_PACKAGES: dict[str, str] = {
    "docker.io": "dockerd, the container platform",
    "containerd": "the runtime dockerd drives",
    "runc": "the OCI runtime (crun cannot run on hybrid cgroups)",
    "iptables": "docker and libvirt networks",
    "qemu-system-x86": "the VM platform's emulator",
    "qemu-utils": "qemu-img: per-instance qcow2 overlays",
    "libvirt-daemon-system": "libvirtd and virtlogd",
    "libvirt-daemon-driver-qemu": "libvirt's QEMU driver",
    "libvirt-clients": "virsh, for humans looking at what vcbench made",
    "libvirt-dev": "headers libvirt-python builds against",
    "pkg-config": "finds libvirt when libvirt-python builds",
    "gcc": "compiles libvirt-python (it ships no wheel) in the nox virtualenv",
    "python3-dev": "Python headers for that build, for the distribution's own python3",
    "dnsmasq-base": "DHCP on the run's libvirt network",
    "mmdebstrap": "builds the one rootfs every platform runs",
    "uidmap": "mmdebstrap's unprivileged modes",
    "busybox-static": "the initramfs and the KVM probe guest",
    "kmod": "module tooling for the guest initramfs",
    "e2fsprogs": "mkfs.ext4 -d: the VM disk from the rootfs tree",
    "xz-utils": "compressed guest kernel modules",
    "iperf3": "the host-side client of the network throughput workload",
    "sockperf": "the host-side client of the network latency workload",
    "redis-tools": "redis-benchmark: the host-side client of the Redis workloads",
    "wrk": "the host-side HTTP load generator of the nginx workload",
    "sysbench": "the host-side client of the MariaDB OLTP workload (sysbench oltp over TCP)",
    "runsc": "gVisor: the gvisor platform (Docker with --runtime=runsc)",
    "podman": "the podman platform (root, daemonless; runc where crun refuses hybrid cgroups)",
}
# Needed only where the kernel enforces AppArmor (Debian's and Ubuntu's stock kernels do):
# dockerd then loads its docker-default profile with apparmor_parser and refuses to start any
# container without it ("AppArmor enabled on system but the docker-default profile could not
# be loaded"). docker.io only recommends it, and setup installs without recommends.
APPARMOR_PACKAGE = "apparmor"
APPARMOR_ENABLED = Path("/sys/module/apparmor/parameters/enabled")


def apparmor_enforced(flag: Path = APPARMOR_ENABLED) -> bool:
    try:
        return flag.read_text().strip() == "Y"
    except OSError:
        return False


def host_packages(flag: Path = APPARMOR_ENABLED) -> list[str]:
    """What this host needs: APT_PACKAGES, plus apparmor where the kernel enforces it."""
    return list(APT_PACKAGES) + ([APPARMOR_PACKAGE] if apparmor_enforced(flag) else [])


# Packages only some platforms need: missing, they make only these unusable (doctor).
PACKAGE_PLATFORMS: dict[str, tuple[str, ...]] = {
    "runsc": ("gvisor",),
    "podman": ("podman",),
    APPARMOR_PACKAGE: ("docker", "gvisor"),
}

# Only for the test suite (`--test-tools`): the real-browser test of the HTML report. A user
# who only benchmarks never needs a browser on the host.
TEST_PACKAGES: dict[str, str] = {
    "chromium": "the headless browser the report test opens the report in",
    "chromium-driver": "chromedriver, which selenium drives it with",
}


def missing_packages(packages: list[str] | None = None) -> list[str]:
    """Packages dpkg does not report as installed (all of them on a non-dpkg host)."""
    wanted = host_packages() if packages is None else packages
    if shutil.which("dpkg-query") is None:
        return wanted
    done = run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *wanted],
        check=False,
        timeout=30,
    )
    installed = {
        line.split()[0].split(":")[0]
        for line in done.stdout.splitlines()
        if len(line.split()) > 1 and line.split()[1].startswith("ii")
    }
    return [p for p in wanted if p not in installed]


def install_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]
