"""Debian packages unpacked into the cache, never installed on the host.

`apt-get download` fetches the host's candidate version, `dpkg-deb --fsys-tarfile | tar -x`
unpacks it (`dpkg-deb -x` would replace a merged-/usr symlink with a directory). One cache
directory per package version, made atomically, so concurrent callers cannot see half of one.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from bench.core.errors import BenchError, ImageError
from bench.core.proc import run, tail

_APT_HINT = "run `apt-get update` (apt must reach the Debian mirror)"


def candidate(package: str) -> tuple[str, str]:
    """The host apt's candidate (version, Depends field) for a package."""
    try:
        done = run(["apt-cache", "show", "--no-all-versions", package], check=False, timeout=60)
    except BenchError as exc:
        raise ImageError(exc.message, _APT_HINT) from exc
    fields = dict(re.findall(r"^(Version|Depends): (.*)$", done.stdout, re.MULTILINE))
    if done.returncode != 0 or "Version" not in fields:
        raise ImageError(f"apt knows no package {package} ({tail(done.stderr)})", _APT_HINT)
    return fields["Version"], fields.get("Depends", "")


def unpacked(cache_root: Path, package: str) -> Path:
    """The candidate version of a package, unpacked under cache_root/debs; fetched if missing."""
    version, _ = candidate(package)
    target = cache_root / "debs" / f"{package}_{version.replace(':', '%3a')}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tmp-") as tmp:
        download = Path(tmp) / "download"
        tree = Path(tmp) / "tree"
        download.mkdir()
        tree.mkdir()
        deb = fetch(package, download)
        run(
            ["sh", "-ec", 'dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"',
             "unpack", deb, tree],
            timeout=300,
            hint="install dpkg and tar",
        )  # fmt: skip
        try:
            tree.rename(target)
        except OSError:
            if not target.is_dir():  # lost a race to another process: theirs is as good
                raise
    return target


def fetch(package: str, dest: Path) -> Path:
    """Download the candidate .deb of package into dest (no install, no root needed)."""
    try:
        run(
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
            cwd=dest,
            timeout=600,
        )
    except BenchError as exc:
        raise ImageError(f"cannot download {package}: {exc.message}", _APT_HINT) from exc
    debs = sorted(dest.glob("*.deb"))
    if len(debs) != 1:
        raise ImageError(f"apt-get download {package} gave {len(debs)} .deb files", _APT_HINT)
    return debs[0]


def remove_all(cache_root: Path) -> None:
    shutil.rmtree(cache_root / "debs", ignore_errors=True)
