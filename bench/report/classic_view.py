"""The classic table (bench.analysis.classic) as the report shows it: text ready for the
template. bench.analysis.classic decides; this module only formats."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from bench.analysis.classic import ClassicResult

# The agreement's badge: the words are the meaning, the class (claims' colours) only colours.
BADGES: Final = {
    "agrees": "yes",
    "disagrees": "no",
    "inconclusive": "unsure",
    "not measured": "missing",
}


def ratio_text(value: float) -> str:
    """Three significant digits, trailing zeros kept: a ratio of 1.0025 reads 1.00, not 1."""
    return f"{value:#.3g}".rstrip(".") if math.isfinite(value) else "-"


def classic_rows(results: Sequence[ClassicResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        published = f"{r.row.published_ratio:.2f}" if r.row.published_ratio is not None else ""
        interval = (
            f"[{ratio_text(r.ratio_low)}, {ratio_text(r.ratio_high)}]"
            if math.isfinite(r.ratio_low) and math.isfinite(r.ratio_high)
            else "-"
        )
        rows.append(
            {
                "anchor": f"classic-{r.row.key}",
                "source": r.row.source,
                "figure": r.row.figure,
                "ordering": r.row.ordering,
                "published": r.row.published,
                "published_ratio": published,
                "ratio": ratio_text(r.ratio),
                "interval": interval,
                "n": f"{r.n} / {r.n_ref}" if r.n else "-",
                "call": r.call or "-",
                "agreement": r.agreement,
                "badge": BADGES[r.agreement],
                "reason": r.reason
                or f"no {r.row.subject} and native figures of {r.row.workload} in this run",
                "note": r.note,
                "workload": r.row.workload,
                "metric": r.row.metric,
            }
        )
    return rows
