"""`vcbench publish`: one static site from the results of one or several hosts.

OUT/index.html is the history index over every host (a section per host: trends and steps
never pool two hosts); OUT/<host>/<run-id>/index.html is each run's report, beside a copy of
the raw outputs and logs it links to, so the site is whole on its own (GitHub Pages, a file
share). Gathering and naming are pure (`gather`, `host_dir`); `publish` writes the site into a
staging directory beside OUT and swaps it in, so a reader never sees half a site.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.core.errors import BenchError
from bench.data.results import TIMESERIES, RunData
from bench.data.run_history import Skipped, scan
from bench.data.run_meta import run_info
from bench.report.history import index_html
from bench.report.render import render_run
from bench.report.time_series import load_series, series_trials

# OUT holds this file once it is a site: publish replaces only a directory that is empty or
# carries it, never one that holds anything else (`vcbench publish ~` must not wipe a home).
MARKER: Final = ".vcbench-site"
LINKED_FOLDERS: Final = ("raw", "logs")  # what a run's page links to
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SiteRun:
    run: RunData
    host: str  # the fingerprint's hostname, as pages show it
    where: str  # "<host dir>/<run id>": the page's directory under OUT


@dataclass(frozen=True)
class Gathered:
    runs: tuple[SiteRun, ...]
    skipped: tuple[Skipped, ...]  # run directories that could not be read: warnings

    def hosts(self) -> list[str]:
        return sorted({r.host for r in self.runs})


@dataclass(frozen=True)
class Published:
    index: Path
    runs: int
    hosts: int
    skipped: tuple[Skipped, ...]


def host_dir(host: str) -> str:
    """A host name as one safe path segment. A name changed by the cleaning gets a digest of
    the original, so "a b" and "a-b" stay two directories."""
    clean = _UNSAFE.sub("-", host).strip(".-") or "unknown"
    if clean == host:
        return clean
    return f"{clean}-{hashlib.sha256(host.encode()).hexdigest()[:8]}"


def _safe_id(run_id: str) -> str:
    clean = _UNSAFE.sub("-", run_id).strip(".-") or "run"
    if clean == run_id:
        return clean
    return f"{clean}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def locate(host: str, run_id: str) -> str:
    """Where (host, run id)'s page lives under OUT: the host first, so equal run ids from two
    hosts never collide."""
    return f"{host_dir(host)}/{_safe_id(run_id)}"


def gather(
    found: Iterable[tuple[Sequence[RunData], Sequence[Skipped]]],
) -> Gathered:
    """Merge what each source held. The same run of the same host in two sources (a results
    branch and tonight's artifact) is published once: the copy with the most trials wins (a
    resumed run grows)."""
    chosen: dict[str, SiteRun] = {}
    skipped: list[Skipped] = []
    for runs, unread in found:
        skipped.extend(unread)
        for run in runs:
            host = run_info(run).host
            site_run = SiteRun(run, host, locate(host, run.run_id))
            kept = chosen.get(site_run.where)
            if kept is None or len(run.trials) > len(kept.run.trials):
                chosen[site_run.where] = site_run
    return Gathered(tuple(chosen[k] for k in sorted(chosen)), tuple(skipped))


def read_sources(sources: Sequence[Path]) -> Gathered:
    """Every run under each source directory; a source that is missing is an error, an
    unreadable run in one is a warning."""
    for source in sources:
        if not source.is_dir():
            raise BenchError(
                f"--from {source}: no such directory",
                "give a results directory (one <run-id>/run.json per run)",
            )
    return gather(scan(source) for source in sources)


def check_out(out: Path) -> None:
    """OUT must be a directory publish may replace: new, empty, or an earlier site."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"{out} is a file", "give a directory for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise BenchError(
            f"{out} holds files that are not a vcbench site",
            "give a new or empty directory, or one an earlier `vcbench publish` wrote",
        )
    parent = out.absolute().parent
    if not parent.is_dir():
        raise BenchError(f"{parent} does not exist", "create it, or give another directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BenchError(f"{parent} is not writable", "give a directory you can write to")


def _links(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if os.path.islink(os.path.join(directory, n))]


def _copy_linked(run_dir: Path, page_dir: Path) -> frozenset[str]:
    """Copy the raw outputs and logs beside the page; the relative paths copied."""
    copied: set[str] = set()
    for folder in LINKED_FOLDERS:
        source = run_dir / folder
        if not source.is_dir():
            continue
        # Links are left out: a site holds copies, never a path into the host that wrote it.
        shutil.copytree(source, page_dir / folder, ignore=_links)
        copied.update(f"{folder}/{name}" for name in os.listdir(page_dir / folder))
    return frozenset(copied)


def write_run_page(site_run: SiteRun, site: Path) -> Path:
    """The run's report at site/<where>/index.html, its links pointing at the copies."""
    page_dir = site / site_run.where
    page_dir.mkdir(parents=True)
    run = site_run.run
    files = _copy_linked(run.directory, page_dir)
    wanted = {tid for per in series_trials(run).values() for tid in per.values()}
    text = render_run(
        run,
        series=load_series(run.directory / TIMESERIES, wanted),
        links_base="",
        files=files,
    )
    target = page_dir / "index.html"
    target.write_text(text, encoding="utf-8")
    return target


def write_site(gathered: Gathered, site: Path) -> Path:
    """Every run's page, then the index over them all (it links only pages that exist)."""
    for site_run in gathered.runs:
        write_run_page(site_run, site)
    page = index_html([r.run for r in gathered.runs], gathered.skipped, site, locate)
    (site / "index.html").write_text(page, encoding="utf-8")
    (site / MARKER).write_text("written by vcbench publish; replaced whole on the next one\n")
    return site / "index.html"


def _swap(staging: Path, out: Path) -> None:
    """staging becomes out: two renames, the old site removed only after the new one is in."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old)


def publish(out: Path, sources: Sequence[Path]) -> Published:
    """Write the site for every run under `sources` to `out`, replacing an earlier one."""
    out = Path(os.path.abspath(out))  # "." or "site/..": the swap renames a real name
    check_out(out)
    gathered = read_sources(sources)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.absolute().parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server
        write_site(gathered, staging)
        _swap(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return Published(
        out / "index.html", len(gathered.runs), len(gathered.hosts()), gathered.skipped
    )


__all__ = [
    "MARKER",
    "Gathered",
    "Published",
    "SiteRun",
    "check_out",
    "gather",
    "host_dir",
    "locate",
    "publish",
    "read_sources",
    "write_site",
]
