"""Platform name -> class, spelled out: adding a platform is one line here."""

from __future__ import annotations

from bench.errors import BenchError
from bench.platforms.base import Platform, PlatformConfig
from bench.platforms.docker import DockerPlatform
from bench.platforms.libvirt import LibvirtPlatform
from bench.platforms.native import NativePlatform

PLATFORMS: dict[str, type[Platform]] = {
    "native": NativePlatform,
    "docker": DockerPlatform,
    "libvirt": LibvirtPlatform,
}


def open_platform(name: str, config: PlatformConfig) -> Platform:
    try:
        cls = PLATFORMS[name]
    except KeyError:
        raise BenchError(
            f"unknown platform {name!r}", f"choose one of {', '.join(PLATFORMS)}"
        ) from None
    return cls(config)
