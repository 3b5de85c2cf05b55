"""Links from the page to a run's raw outputs and logs (safe relative paths only), per trial,
and the failed trials' rows that carry them."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bench.data.results import RunData, Trial


@dataclass(frozen=True)
class Link:
    text: str
    href: str


def safe_rel(path: str) -> bool:
    """A path inside the run directory: no scheme, not absolute, no way up."""
    return bool(path) and ":" not in path and not path.startswith(("/", "\\")) and (
        ".." not in path.split("/")
    )  # fmt: skip


def _href(base: str, rel: str) -> str:
    joined = posixpath.normpath(posixpath.join(base, rel)) if base else rel
    return quote(joined, safe="/")


def _trial_links(
    trial_raw: Iterable[str], instance: str, base: str, files: frozenset[str] | None
) -> list[Link]:
    links = [
        Link(posixpath.basename(rel).rsplit(".", 1)[-1], _href(base, rel))
        for rel in trial_raw
        if safe_rel(rel) and (files is None or rel in files)
    ]
    log = f"logs/{instance}.log"
    if files is not None and log in files and safe_rel(log):
        links.append(Link("log", _href(base, log)))
    return links


def raw_links(
    trials: Sequence[Trial],
    platforms: Sequence[str],
    base: str,
    files: frozenset[str] | None,
) -> list[tuple[str, list[tuple[str, list[Link]]]]]:
    """A workload's trials (in round order), by platform, with the links each one has."""
    by_platform: dict[str, list[tuple[str, list[Link]]]] = {}
    for t in trials:
        links = _trial_links(t.raw, t.instance, base, files)
        if links:
            by_platform.setdefault(t.platform, []).append((t.trial_id, links))
    order = [*platforms, *(p for p in by_platform if p not in platforms)]
    return [(p, by_platform[p]) for p in order if p in by_platform]


def failed_rows(run: RunData, base: str, files: frozenset[str] | None) -> list[dict[str, Any]]:
    return [
        {
            "trial": t.trial_id,
            "workload": t.workload,
            "platform": t.platform,
            "round": t.round,
            "warmup": t.warmup,
            "cause": t.cause or "-",
            "error": t.error or "-",
            "links": _trial_links(t.raw, t.instance, base, files),
        }
        for t in run.trials
        if t.status == "failed"
    ]
