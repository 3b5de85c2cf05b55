"""The claims' verdicts as the report and the exports show them: text ready for a template
(figures with their units scaled, intervals in brackets), or plain JSON-able data.

bench.analysis.claims decides; this module only formats.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Final

from bench.analysis.claims import ClaimFigure, ClaimVerdict

# A verdict's badge: the words are the meaning, the class only colours them.
BADGES: Final = {
    "supported": "yes",
    "not supported": "no",
    "partly supported": "partly",
    "inconclusive": "unsure",
    "not measurable here": "na",
    "not measured in this run": "missing",
}


def _scaled(value: float, unit: str) -> tuple[float, str]:
    """Bytes in MiB or GiB, sub-second times in ms, fractions in percent."""
    if unit == "B":
        return (value / 2**30, "GiB") if abs(value) >= 2**30 else (value / 2**20, "MiB")
    if unit == "s" and abs(value) < 1:
        return value * 1e3, "ms"
    if unit == "fraction":
        return value * 100, "%"
    return value, unit


def _digits(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def figure_cells(figure: ClaimFigure) -> dict[str, str]:
    """A figure's row: value and interval in one unit, chosen by the value."""
    if figure.value is None:
        return {"value": figure.text or "-", "interval": "", "unit": figure.unit}
    value, unit = _scaled(figure.value, figure.unit)
    interval = ""
    if figure.low is not None and figure.high is not None:
        low, _ = _scaled(figure.low, figure.unit)
        high, _ = _scaled(figure.high, figure.unit)
        interval = f"[{_digits(low)}\u2013{_digits(high)}]"
    return {"value": _digits(value), "interval": interval, "unit": unit}


def claim_rows(verdicts: tuple[ClaimVerdict, ...]) -> list[dict[str, Any]]:
    """One dict per claim for the run page's Claims section."""
    return [
        {
            "id": v.id,
            "anchor": "claim-" + re.sub(r"[^a-z0-9]+", "-", v.id.lower()),
            "claim": v.claim,
            "verdict": v.verdict,
            "badge": BADGES[v.verdict],
            "key": v.key or ("" if v.measured else v.reason),
            "reason": v.reason,
            "method": v.method,
            "figures": [
                {
                    "platform": f.platform,
                    "metric": f.metric,
                    "n": f.n,
                    "note": f.note,
                    **figure_cells(f),
                }
                for f in v.figures
            ],
            "caveats": list(v.caveats),
            "references": [dataclasses.asdict(r) for r in v.references],
            "how": v.how,
        }
        for v in verdicts
    ]


def claims_data(verdicts: tuple[ClaimVerdict, ...]) -> list[dict[str, Any]]:
    """The verdicts as plain data for a JSON export: numbers stay numbers (None, not NaN)."""
    return [dataclasses.asdict(v) for v in verdicts]
