"""The self-contained HTML report of one run: `render_run` (pure) and `write_report` (I/O).

One file, readable offline and printable: inline CSS and SVG, no script, no URL outside the
page but relative links to the run's raw outputs, and a Content-Security-Policy that would
block anything else a future template might let in.

This module assembles the page: it gathers the parts the other bench.report modules build
(run_frames, run_facts, notices, summary_table, resource_table, workload_sections,
time_series, raw_links, gate_method) into the template's context, and sets up the jinja
environment.

Layering: statistics come from bench.analysis, data from bench.data; nothing here imports the
platforms, the runner or the collectors, so a report renders on any machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from bench.analysis import classic_run
from bench.analysis.claims import assess
from bench.core.paths import atomic_path, reports_dir
from bench.data.results import TIMESERIES, RunData, load_run
from bench.report.claims_view import claim_rows
from bench.report.classic_view import classic_rows
from bench.report.gate_method import gate_method
from bench.report.notices import run_notices, tcg_banner
from bench.report.raw_links import failed_rows
from bench.report.regression_view import nightly_method, run_view
from bench.report.resource_table import resource_rows
from bench.report.run_facts import event_rows, flatten, header_rows, workload_plan_rows
from bench.report.run_frames import (
    finite_samples,
    plan_of,
    platform_tags,
    run_platforms,
    summarize_run,
    vm_accel,
    workload_frame,
)
from bench.report.summary_table import reference_rows, summary_groups
from bench.report.time_series import Reading, load_series, series_trials
from bench.report.workload_sections import workload_sections

CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --- entry points --------------------------------------------------------------------------


def write_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Render the run in run_dir to out_dir/index.html (default: reports/<run-id>/)."""
    run = load_run(run_dir)
    out_dir = out_dir if out_dir is not None else reports_dir() / run.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {tid for per in series_trials(run).values() for tid in per.values()}
    text = render_run(
        run,
        series=load_series(run_dir / TIMESERIES, wanted),
        links_base=Path(os.path.relpath(run_dir.resolve(), out_dir.resolve())).as_posix(),
        files=_listed(run_dir, ("raw", "logs")),
    )
    target = out_dir / "index.html"
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def render_run(
    run: RunData,
    *,
    series: Mapping[str, Sequence[Reading]] | None = None,
    links_base: str = "",
    files: frozenset[str] | None = None,
) -> str:
    """The page of one run. `series`: timeseries readings by trial id (see series_trials);
    `links_base`: the run directory relative to where the page will be (links to raw
    outputs); `files`: the run's raw/ and logs/ files that exist (None: link what the trials
    name, and no instance logs)."""
    every = workload_frame(run)
    summary = summarize_run(run, every)  # the gate sees values that are not numbers, and says so
    frame = finite_samples(every)
    platforms = run_platforms(run, frame)
    accel = vm_accel(run, platforms)
    context: dict[str, Any] = {
        "csp": Markup(CSP),  # a constant: its quotes stay quotes
        "run_id": run.run_id,
        "header": header_rows(run, platforms, accel),
        "tcg": tcg_banner(run) if accel == "tcg" else None,
        "notices": run_notices(run, frame, accel),
        "platforms": platforms,
        "platform_tags": platform_tags(frame, platforms, accel),
        "groups": summary_groups(run, summary, platforms),
        "claims": claim_rows(assess(run)),
        "classic": classic_rows(classic_run.assess(run)),
        "references": reference_rows(summary, accel),
        "resources": resource_rows(run, platforms),
        "sections": workload_sections(run, frame, summary, platforms, series, links_base, files),
        "failed": failed_rows(run, links_base, files),
        "fingerprint": flatten(run.run_meta.fingerprint),
        "plan": plan_of(run),
        "workload_plans": workload_plan_rows(run),
        "events": event_rows(run),
        "gate": gate_method(),
        "regression": run_view(run),
        "nightly": nightly_method(),
    }
    return _environment().get_template("run.html.j2").render(context)


# --- template -------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report", "templates"),
        autoescape=True,  # every string from run.json is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["svg"] = lambda chart: Markup(chart.svg)  # built by charts, never from input
    env.filters["slug"] = lambda text: re.sub(r"[^a-z0-9-]+", "-", str(text).lower())
    # Long metric names may break after an underscore, not mid-word, in a narrow column.
    env.filters["wbr"] = lambda text: Markup("_<wbr>").join(str(text).split("_"))
    return env


def _listed(run_dir: Path, folders: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for folder in folders:
        directory = run_dir / folder
        if directory.is_dir():
            found.update(f"{folder}/{name}" for name in os.listdir(directory))
    return frozenset(found)
