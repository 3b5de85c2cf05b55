"""Platform names, pure: the VM profile variants (libvirt-<profile>) and the one display order.

Every table, chart and export orders platforms with `platform_key`, by isolation: native,
docker, podman (containers on the host kernel), gvisor (a user-space kernel in front of the
host's), then libvirt and its libvirt-tuned, libvirt-emulated variants (a kernel of its own).
Nothing else needs to know how a variant's name is spelled. Imports nothing from the app.
"""

from __future__ import annotations

from collections.abc import Iterable

VM = "libvirt"
DEFAULT_PROFILE = "default"
# Weakest isolation first: the report reads left to right along the isolation spectrum.
BASES = ("native", "docker", "podman", "gvisor", VM)
# The platforms that run the Docker image (podman loads it from dockerd's copy).
DOCKER_BASED = ("docker", "podman", "gvisor")
# Known profiles first in this order; any other (a user's own profile file) after, by name.
PROFILE_ORDER = (DEFAULT_PROFILE, "tuned", "emulated")


# Container network profiles: `docker` is the run's own internal bridge, the host reaching
# the container's address directly (routed, no NAT); `docker-nat` publishes the workload's
# port on the host and the client goes through Docker's DNAT (Felter's "Docker NAT");
# `docker-hostnet` shares the host's network namespace (`--network host`).
NET_BRIDGE = "bridge"
NET_PROFILES = {"nat": "nat", "hostnet": "host"}  # platform suffix -> network mode
NET_BASES = ("docker", "podman")  # the container platforms with a network profile


def net_platform(base: str, suffix: str) -> str:
    """docker-nat, docker-hostnet, podman-hostnet...: a container platform's network variant."""
    return f"{base}-{suffix}"


def net_mode(platform: str) -> str:
    """bridge, nat or host: how a container platform's instances are networked."""
    base, _, suffix = platform.partition("-")
    if base in NET_BASES and suffix in NET_PROFILES:
        return NET_PROFILES[suffix]
    return NET_BRIDGE


def vm_platform(profile: str) -> str:
    """The platform name of a VM profile: `libvirt` for the default one, else libvirt-<p>."""
    return VM if profile == DEFAULT_PROFILE else f"{VM}-{profile}"


def base_of(platform: str) -> str:
    """native, docker, podman, gvisor or libvirt: what a workload's `platforms` list names."""
    if platform.startswith(f"{VM}-"):
        return VM
    base, _, suffix = platform.partition("-")
    return base if base in NET_BASES and suffix in NET_PROFILES else platform


def profile_of(platform: str) -> str:
    """The VM profile of a platform name: "default" for libvirt, "" off the VM platform."""
    if platform == VM:
        return DEFAULT_PROFILE
    if platform.startswith(f"{VM}-"):
        return platform.removeprefix(f"{VM}-")
    return ""


def platform_key(platform: str) -> tuple[int, int, str]:
    """Sort key: native, docker, podman, gvisor, libvirt and its variants (default, tuned,
    emulated, others)."""
    base = base_of(platform)
    base_rank = BASES.index(base) if base in BASES else len(BASES)
    profile = profile_of(platform)
    rank = PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else len(PROFILE_ORDER)
    if base != VM:  # a container's network variants after it: docker, -nat, -hostnet
        rank = 1 + list(NET_PROFILES).index(platform.partition("-")[2]) if platform != base else 0
    return (base_rank, rank, platform)


def sort_platforms(platforms: Iterable[str]) -> list[str]:
    return sorted(set(platforms), key=platform_key)


def expand_vm_profiles(platforms: Iterable[str], profiles: Iterable[str]) -> tuple[str, ...]:
    """--platforms with its libvirt entry replaced by one platform per VM profile, in place."""
    out: list[str] = []
    for platform in platforms:
        if platform == VM:
            out.extend(vm_platform(p) for p in profiles)
        else:
            out.append(platform)
    return tuple(dict.fromkeys(out))
