"""Exports of one run: CSV and NDJSON of every sample, a Markdown summary for a CI job summary
or a pull-request comment, the claims' verdicts as JSON.

As in hyperfine, exporters are pure: a run in, bytes out; where the bytes go (stdout, a file)
is the caller's business. Heavy imports (pandas, the statistics) wait until a format needs
them: the CLI imports this module at start-up for FORMATS.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any, Final

from bench.core.errors import BenchError
from bench.data.results import RunData, samples_frame

FORMATS: Final = ("csv", "ndjson", "markdown", "claims")
MARKDOWN_HEADER: Final = (
    "| metric | platform | n | median [95% CI] | overhead vs native | verdict |"
)
TCG_CAVEAT: Final = (
    "accel=tcg: the VM figures measure software emulation (TCG),"
    " not hardware virtualisation; do not read them as KVM overhead."
)


def serialize(run: RunData, fmt: str) -> bytes:
    """The run in `fmt` (one of FORMATS); BenchError for any other format."""
    writers: dict[str, Callable[[RunData], str]] = {
        "csv": to_csv,
        "ndjson": to_ndjson,
        "markdown": to_markdown,
        "claims": to_claims,
    }
    writer = writers.get(fmt)
    if writer is None:
        raise BenchError(f"unknown export format {fmt!r}", f"choose from {', '.join(FORMATS)}")
    return writer(run).encode()


def to_csv(run: RunData) -> str:
    """Every sample (warm-ups and collector series included) as one flat row."""
    text: str = samples_frame(run).to_csv(index=False, lineterminator="\n")
    return text


def _finite(value: Any) -> Any:
    # JSON has no NaN or Infinity: a reader would choke on Python's extension.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_ndjson(run: RunData) -> str:
    """One JSON object per sample, with the same fields as the CSV columns."""
    lines = [
        json.dumps({k: _finite(v) for k, v in dataclasses.asdict(s).items()}, allow_nan=False)
        for s in run.samples
    ]
    return "".join(line + "\n" for line in lines)


def to_claims(run: RunData) -> str:
    """The claims' verdicts (bench.analysis.claims), one JSON object each, C1..C12, in a list."""
    from bench.analysis.claims import assess
    from bench.report.claims_view import claims_data

    return json.dumps(claims_data(assess(run)), indent=2, allow_nan=False) + "\n"


# --- markdown ----------------------------------------------------------------------------


def _cell(text: object) -> str:
    """Safe in a GitHub table cell: a pipe would split the cell, a newline end the table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _median_ci(row: dict[str, Any]) -> str:
    from bench.report.comparison import num

    text = num(row["median"])
    low, high = float(row["ci_low"]), float(row["ci_high"])
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{num(low)}, {num(high)}]"
    return text


def _overhead(row: dict[str, Any]) -> str:
    if row["verdict"] == "baseline":
        return "baseline"
    value = float(row["overhead_pct"])
    return f"{value:+.1f}%" if math.isfinite(value) else "-"


def _workload_tables(run: RunData) -> list[str]:
    from bench.report.comparison import direction
    from bench.report.terminal import summary_frame

    frame = summary_frame(run)
    if frame.empty:
        return ["No workload figures: every trial failed or none ran."]
    out: list[str] = []
    for workload in dict.fromkeys(frame["workload"]):
        out += ["", f"### {_cell(workload)}", "", MARKDOWN_HEADER, "|---|---|--:|--:|--:|---|"]
        for row in frame.loc[frame["workload"] == workload].to_dict("records"):
            metric = f"{row['metric']} ({row['unit']}, {direction(bool(row['higher_is_better']))})"
            cells = (
                metric,
                row["platform"],
                row["n"],
                _median_ci(row),
                _overhead(row),
                row["verdict"],
            )
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out


def _claims_table(run: RunData) -> list[str]:
    from bench.analysis.claims import assess

    out = ["", "### Claims", "", "| claim | verdict | figures or reason |", "|---|---|---|"]
    for v in assess(run):
        shown = v.key if v.measured else (v.key or v.reason)
        out.append(f"| {_cell(v.id)} {_cell(v.claim)} | {_cell(v.verdict)} | {_cell(shown)} |")
    return out


def _regression_block(run: RunData) -> list[str]:
    """The run-level check: counts, what is still learning, suspects and confirmations."""
    from bench.report.regression_view import run_view

    shown = run_view(run)
    if shown is None:
        return []
    out = ["", "### Against this host's history", ""]
    if shown.error:
        return [*out, f"Check record unreadable: {_cell(shown.error)}"]
    out.append(", ".join(f"{n} {status}" for status, n in shown.counts) or "no figure judged")
    if shown.learning:
        out += ["", f"> {_cell(shown.learning)}"]
    if shown.regressed:
        out += ["", "> **REGRESSION:** a figure was confirmed worse on fresh runs (exit 3)."]
    if shown.rows:
        out += ["", "| figure | status | this run | history [interval] | change | why |"]
        out.append("|---|---|---|---|---|---|")
        out += [
            f"| {_cell(r.subject)} | {_cell(r.status)} | {_cell(r.median)} | {_cell(r.history)}"
            f" | {_cell(r.change)} | {_cell(r.reason)} |"
            for r in shown.rows
        ]
    return out


def warning_lines(run: RunData) -> list[str]:
    """Everything a reader of the figures should know: the statistics' warnings about the
    samples and the run, what the reader had to skip, and the run's own warning events."""
    from bench.analysis import stability
    from bench.data.run_meta import measured_frame, run_info

    failed = sum(t.status == "failed" for t in run.trials)
    busy = [
        e.message.removeprefix("busy host: ")
        for e in run.events
        if e.kind == "warning" and e.data.get("code") == "busy-host"
    ]
    measured = measured_frame(run)
    found = [] if measured.empty else stability.stability_warnings(measured)
    found += stability.run_warnings(
        failed_trials=failed, total_trials=len(run.trials), busy=busy, accel=run_info(run).accel
    )
    lines = [f"**{w.code}** {w.subject}: {w.message}; {w.advice}" for w in found]
    lines += [f"**reader** {w}" for w in run.warnings]
    lines += [
        f"**{e.kind}** {e.message}" + (f"; {e.advice}" if e.advice else "")
        for e in run.events
        if e.kind in ("dropped-platform", "interrupted", "skipped")
        or (e.kind == "warning" and e.data.get("code") != "busy-host")
    ]
    return lines


def to_markdown(run: RunData) -> str:
    """A summary fit for $GITHUB_STEP_SUMMARY or a PR comment."""
    from bench.data.run_meta import run_info

    info = run_info(run)
    ok = sum(t.status == "ok" for t in run.trials)
    failed = len(run.trials) - ok
    out = [
        f"## vcbench run {_cell(info.run_id)}",
        "",
        f"host **{_cell(info.host)}** · accel **{_cell(info.accel)}** · suite"
        f" **{_cell(info.suite)}** · {info.date} · trials: {ok} ok, {failed} failed",
    ]
    if info.accel == "tcg":
        out += ["", f"> **Caveat:** {TCG_CAVEAT}"]
    out += [
        "",
        "Median [95% bootstrap CI] per platform; overhead against native, positive ="
        " worse whichever way the metric points.",
    ]
    out += _workload_tables(run)
    out += _regression_block(run)
    out += _claims_table(run)
    warnings = warning_lines(run)
    out += ["", "### Warnings", ""]
    out += [f"- {_cell(w)}" for w in warnings] if warnings else ["None."]
    return "\n".join(out) + "\n"
