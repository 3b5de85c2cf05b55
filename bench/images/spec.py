"""The declared image spec: a TOML file becomes a frozen, validated model with a stable key."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.core.errors import ImageError

HOST_SOURCES = (
    Path("/etc/apt/sources.list.d/debian.sources"),
    Path("/etc/apt/sources.list"),
)
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_MODULE = re.compile(r"^[A-Za-z0-9_-]+$")

NonEmpty = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DiskSpec(_Frozen):
    size_mib: int = Field(4096, ge=512, le=1024 * 1024)


class KernelSpec(_Frozen):
    package: NonEmpty = "linux-image-cloud-amd64"
    modules: tuple[NonEmpty, ...] = Field(min_length=1)

    @field_validator("modules")
    @classmethod
    def _module_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [m for m in value if not _MODULE.match(m)]
        if bad:
            raise ValueError(f"not a kernel module name: {', '.join(bad)}")
        return value


class ImageSpec(_Frozen):
    suite: NonEmpty
    variant: Literal["essential", "apt", "required", "minbase"] = "essential"
    source_date_epoch: int = Field(ge=0)
    apt_sources: NonEmpty = "host"
    hostname: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] = "vcbench"
    packages: tuple[NonEmpty, ...] = Field(min_length=1)
    disk: DiskSpec = DiskSpec(size_mib=4096)
    kernel: KernelSpec

    @field_validator("packages")
    @classmethod
    def _package_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if not _PACKAGE.match(p)]
        if bad:
            raise ValueError(f"not a Debian package name: {', '.join(bad)}")
        dupes = sorted({p for p in value if value.count(p) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return value

    def sources_file(self) -> Path:
        """The apt sources mmdebstrap uses: the host's own, unless the spec names a file."""
        if self.apt_sources != "host":
            path = Path(self.apt_sources)
            if not path.is_file():
                raise ImageError(
                    f"apt sources file {path} does not exist", "fix `apt_sources` in the image spec"
                )
            return path
        for path in HOST_SOURCES:
            if path.is_file():
                return path
        raise ImageError(
            "this host has no apt sources (" + " or ".join(map(str, HOST_SOURCES)) + ")",
            "set `apt_sources` in the image spec to a sources file",
        )


def default_spec_path() -> Path:
    return Path(str(resources.files("bench.images") / "default.toml"))


def load(path: Path | None = None) -> ImageSpec:
    """Read and validate a spec; every error names the file and the key."""
    path = path or default_spec_path()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        message = f"cannot read image spec {path}: {exc.strerror}"
        raise ImageError(message, "check the --spec path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImageError(f"{path}: not valid TOML ({exc})", "fix the syntax") from exc
    try:
        return ImageSpec.model_validate(data)
    except ValidationError as exc:
        raise ImageError(f"{path}: {_first_problem(exc)}", "fix the image spec") from exc


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    count = exc.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"key `{key}`: {error['msg']}{more}"


def spec_key(spec: ImageSpec, sources_text: str, recipe: str) -> str:
    """What a cache entry is keyed by: the spec, the apt sources it reads, and the recipe.

    The recipe is a fingerprint of the builder's own inputs (guest init, initramfs init),
    so that changing how images are made is a new entry, not a stale hit.
    """
    blob = json.dumps(
        {"spec": spec.model_dump(mode="json"), "sources": sources_text, "recipe": recipe},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
