"""Platform name -> class, spelled out: adding a platform is one line here.

Docker comes in one variant per container network profile too: docker-nat, docker-hostnet.

The VM platform comes in one variant per VM profile: `libvirt` is the default profile,
`libvirt-<profile>` (libvirt-tuned, libvirt-emulated) the others (bench/core/platform_names.py).
"""

from __future__ import annotations

from functools import cache

from bench.core.errors import BenchError
from bench.core.platform_names import (
    DEFAULT_PROFILE,
    NET_PROFILES,
    base_of,
    net_mode,
    net_platform,
    profile_of,
    sort_platforms,
    vm_platform,
)
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


# The container platforms with network profiles, and which: docker-nat, docker-hostnet,
# podman-hostnet (podman's published ports go through its own port forwarder, not measured
# here, so it has no nat profile).
NET_PLATFORMS: dict[str, tuple[type[Platform], tuple[str, ...]]] = {
    "docker": (DockerPlatform, tuple(NET_PROFILES)),
    "podman": (PodmanPlatform, ("hostnet",)),
}


@cache
def net_platform_class(name: str) -> type[Platform]:
    """A container platform whose instances use another network mode (nat, host)."""
    attrs = {"name": name, "network_mode": net_mode(name), "__module__": __name__}
    base = NET_PLATFORMS[base_of(name)][0]
    return type(f"{base.__name__}_{name.replace('-', '_')}", (base,), attrs)


def net_variants() -> list[str]:
    return [net_platform(b, s) for b, (_, suffixes) in NET_PLATFORMS.items() for s in suffixes]


def platform_class(name: str) -> type[Platform]:
    if name in PLATFORMS:
        return PLATFORMS[name]
    if name in net_variants():
        return net_platform_class(name)
    if profile_of(name) in profile_names():
        return vm_platform_class(profile_of(name))
    variants = [*net_variants(), *(vm_platform(p) for p in profile_names() if p != DEFAULT_PROFILE)]
    raise BenchError(
        f"unknown platform {name!r}", f"choose one of {', '.join([*PLATFORMS, *variants])}"
    )


def platform_names() -> list[str]:
    """Every platform name: native, docker, libvirt and libvirt-<profile> for each profile."""
    return sort_platforms([*PLATFORMS, *net_variants(), *(vm_platform(p) for p in profile_names())])


def open_platform(name: str, config: PlatformConfig) -> Platform:
    return platform_class(name)(config)
