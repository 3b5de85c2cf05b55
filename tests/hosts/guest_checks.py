"""Inside the systemd + cgroup v2 guest: each platform's cgroup collector against the
instance's own memory.current. Prints one JSON object; the host-side test judges it.

Run as a script by guest_run.sh (PYTHONPATH holds the carried project and its wheels).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from bench.collectors.cgroup_source import CgroupSource
from bench.collectors.sources import container_pid, sources_for
from bench.images.build import current
from bench.platforms.docker import DockerInstance
from bench.platforms.labels import RunContext
from bench.platforms.podman import PodmanInstance
from bench.platforms.protocol import Instance, InstanceSpec, Limits, PlatformConfig
from bench.platforms.registry import open_platform

PLATFORMS = ("native", "docker", "podman", "gvisor")
MEMORY_MIB = 256
V2 = Path("/sys/fs/cgroup")


def v2_path(cgroup_text: str) -> Path:
    """The unified hierarchy's directory named by /proc/<pid>/cgroup ("0::/path")."""
    line = next(x for x in cgroup_text.splitlines() if x.startswith("0::"))
    return V2 / line.removeprefix("0::").lstrip("/")


def own_dir(instance: Instance) -> Path:
    """The instance's cgroup found without the collectors' code: by a process inside it."""
    if isinstance(instance, PodmanInstance):
        pid = instance.pid()
    elif isinstance(instance, DockerInstance):  # gvisor: the sandbox's container
        pid = container_pid(instance)
    else:  # native: the process exec'd in the chroot joins the instance's cgroup
        done = instance.exec(["cat", "/proc/self/cgroup"], timeout=120)
        return v2_path(done.stdout)
    return v2_path(Path(f"/proc/{pid}/cgroup").read_text())


def check(platform: str, images: Any) -> dict[str, Any]:
    run = RunContext.create()
    limits = Limits.on_host(1, MEMORY_MIB)
    with (
        open_platform(platform, PlatformConfig(run, images, accel="tcg")) as opened,
        opened.start(InstanceSpec(limits, ready_timeout_s=300)) as instance,
    ):
        source = next(s for s in sources_for(instance) if isinstance(s, CgroupSource))
        where = own_dir(instance)
        before = source.read()
        own = int((where / "memory.current").read_text())
        after = source.read()
        inside = None
        if platform in ("docker", "podman"):  # a private cgroup namespace: its own root
            done = instance.exec(["cat", "/sys/fs/cgroup/memory.current"], timeout=120)
            inside = int(done.stdout.strip()) if done.exit_code == 0 else None
        return {
            "collector_dir": str(source.dirs.memory.path if source.dirs.memory else None),
            "collector_version": source.dirs.memory.version if source.dirs.memory else None,
            "own_dir": str(where),
            "memory_max": (where / "memory.max").read_text().strip(),
            "collector_before": before.get("mem_bytes"),
            "own": own,
            "collector_after": after.get("mem_bytes"),
            "inside": inside,
            "cpu_s": after.get("cpu_s"),
        }


def main() -> int:
    images = current()
    out: dict[str, Any] = {}
    for platform in PLATFORMS:
        try:
            out[platform] = check(platform, images)
        except Exception as exc:  # every platform reported, whichever fails
            out[platform] = {
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(),
            }
    print(json.dumps(out, indent=1))
    return 0 if all("error" not in v for v in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
