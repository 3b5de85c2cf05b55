"""A workload's Method rows: its definition from the plan, placeholders filled in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bench.data.results import RunData
from bench.report.run_facts import limits_text
from bench.report.run_frames import plan_of

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill_placeholders(template: str, fields: Mapping[str, Any]) -> str:
    """str.format for the placeholders that have a value; the others stay as written (braces
    in prose or an {address} known only per trial must not break the page)."""

    def one(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(one, template)


def method_rows(plan: Mapping[str, Any], run: RunData) -> tuple[list[tuple[str, str]], str]:
    if not plan:
        return [("definition", "not in run.json (a workload the plan does not name)")], ""
    limits = plan_of(run).get("limits") or {}
    fields = {**limits, **plan}
    rows: list[tuple[str, str]] = [("kind", str(plan.get("kind", "command")))]
    if plan.get("command"):
        rows.append(("command", fill_placeholders(" ".join(map(str, plan["command"])), fields)))
    if plan.get("server"):
        rows.append(("server", fill_placeholders(" ".join(map(str, plan["server"])), fields)))
    if plan.get("parser"):
        rows.append(("parser", str(plan["parser"])))
    if plan.get("runs_on") == "host":
        rows.append(("runs on", "the host, against the instance"))
    rows.append(("duration", f"{plan.get('duration', '?')} s"))
    repeats = f"{plan.get('repeats', '?')} measured, {plan.get('warmup', 0)} warm-up"
    rows.append(("repeats", repeats))
    if plan.get("file_size_mib"):
        rows.append(("file size", f"{plan['file_size_mib']} MiB"))
    if plan.get("kind") == "startup":
        rows.append(("page cache", str(plan.get("cache", "warm"))))
    rows.append(("pinned", limits_text(limits)))
    rows.append(("platforms", ", ".join(map(str, plan.get("platforms", [])))))
    rows.append(("definition hash", str(plan.get("hash", "?"))))
    return rows, fill_placeholders(str(plan.get("method", "")), fields)
