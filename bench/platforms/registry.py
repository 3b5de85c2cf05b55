"""Platform name -> class, spelled out: adding a platform is one line here.

The VM platform comes in one variant per VM profile: `libvirt` is the default profile,
`libvirt-<profile>` (libvirt-tuned, libvirt-emulated) the others (bench/core/platform_names.py).
"""

from __future__ import annotations

from functools import cache

from bench.core.errors import BenchError
from bench.core.platform_names import DEFAULT_PROFILE, profile_of, sort_platforms, vm_platform
from bench.platforms.docker import DockerPlatform
from bench.platforms.gvisor import GvisorPlatform
from bench.platforms.libvirt import LibvirtPlatform
from bench.platforms.native import NativePlatform
from bench.platforms.podman import PodmanPlatform
from bench.platforms.protocol import Platform, PlatformConfig
from bench.platforms.vm_profile import load_profile, profile_names

PLATFORMS: dict[str, type[Platform]] = {
    "native": NativePlatform,
    "docker": DockerPlatform,
    "podman": PodmanPlatform,
    "gvisor": GvisorPlatform,
    "libvirt": LibvirtPlatform,
}


@cache
def vm_platform_class(profile: str) -> type[LibvirtPlatform]:
    """The libvirt platform building its domains from one VM profile (validated here)."""
    load_profile(profile)
    if profile == DEFAULT_PROFILE:
        return LibvirtPlatform
    attrs = {"name": vm_platform(profile), "profile": profile, "__module__": __name__}
    return type(f"LibvirtPlatform_{profile.replace('-', '_')}", (LibvirtPlatform,), attrs)


def platform_class(name: str) -> type[Platform]:
    if name in PLATFORMS:
        return PLATFORMS[name]
    if profile_of(name) in profile_names():
        return vm_platform_class(profile_of(name))
    variants = [vm_platform(p) for p in profile_names() if p != DEFAULT_PROFILE]
    raise BenchError(
        f"unknown platform {name!r}", f"choose one of {', '.join([*PLATFORMS, *variants])}"
    )


def platform_names() -> list[str]:
    """Every platform name: native, docker, libvirt and libvirt-<profile> for each profile."""
    return sort_platforms([*PLATFORMS, *(vm_platform(p) for p in profile_names())])


def open_platform(name: str, config: PlatformConfig) -> Platform:
    return platform_class(name)(config)
