"""Run against run, like `asv compare`: are the runs comparable, which figures moved, and the
text and HTML of it.

Pure where possible: `check_comparable`, `comparison_text` and `comparison_html` take data and
return data; `compare_runs` only adds the statistics (bench.analysis.stats). Where the bytes go
is the CLI's business (bench.cli.compare).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2
import pandas as pd

from bench.analysis import gate, stats
from bench.core.errors import BenchError
from bench.data.results import RunData
from bench.data.run_meta import (
    RunInfo,
    check_comparable,
    measured_frame,
    run_info,
)

TEMPLATES: Final = Path(__file__).parent / "templates"

# asv's convention: "+" worse (slower), "-" better, "~" a change as large as the minimum effect
# that the test cannot call, blank not significant, "x" not comparable.
SYMBOLS: Final = {"worse": "+", "better": "-", "not comparable": "x"}
_CALLED: Final = f"significant (p < {gate.DEFAULT.alpha:g}) and at least the minimum effect"
LEGEND: Final = (  # (symbol, mark, label, meaning)
    ("+", "worse", "worse", _CALLED),
    ("-", "better", "better", _CALLED),
    (
        "~",
        "not significant",
        "large but not significant",
        "a shift of at least the minimum effect that noise could explain",
    ),
    (" ", "not significant", "not significant", "no shift that matters"),
    (
        "x",
        "not comparable",
        "not comparable",
        "changed definition, unit or accel, or too few samples for the test to decide",
    ),
)
ORDER: Final = ("worse", "better", "not significant", "not comparable")
# Two single runs are one sample of the noise between runs each: the repeats inside a run share
# its boot, caches, CPU frequency and neighbours, and the marks below cannot see that noise.
TWO_RUNS: Final = (
    "Two single runs cannot tell a change from the noise between runs: the marks below are"
    " within-run evidence (each run's repeats against the other's), which understates how much"
    " two runs of the same thing differ. Regressions are called at the run level: `vcbench run`"
    " judges each run against this host's history of runs and exits 3 only on a change that"
    " fresh runs confirm."
)


class NotComparableError(BenchError):
    """Two runs measured different things; comparing them needs --force."""

    def __init__(self, differences: Sequence[str]) -> None:
        super().__init__(
            "runs are not comparable: " + ", ".join(differences),
            "use --force to compare anyway",
        )
        self.differences = tuple(differences)


@dataclass(frozen=True, eq=False)  # eq=False: DataFrames do not compare to a bool
class ComparisonResult:
    a: RunInfo
    b: RunInfo
    frame: pd.DataFrame  # stats.COMPARE_COLUMNS plus "symbol"; ratio = b / a
    differences: tuple[str, ...]  # the fields in which the runs differ (empty if comparable)
    forced: bool  # compared although they differ
    regressions: pd.DataFrame  # the rows marked "worse"

    @property
    def regressed(self) -> bool:
        return not self.regressions.empty

    def counts(self) -> dict[str, int]:
        marks = list(self.frame["mark"]) if not self.frame.empty else []
        return {mark: marks.count(mark) for mark in ORDER}

    def unarmed(self) -> str:
        """A line when the gate could not have called some comparable figure a change (too
        few repeats, a test that cannot reach alpha, bad numbers); "" when it could for all."""
        if self.frame.empty:
            return ""
        comparable = self.frame.loc[self.frame["mark"] != "not comparable"]
        idle = comparable.loc[~comparable["armed"].astype(bool)]
        if idle.empty:
            return ""
        few = idle.loc[idle["code"].isin([str(code) for code in gate.TOO_FEW])]
        parts = []
        if not few.empty:
            ns = sorted({int(n) for n in (*few["n_a"], *few["n_b"])})
            span = f"n={ns[0]}" if len(ns) == 1 else f"n={ns[0]}-{ns[-1]}"
            parts.append(
                f"{len(few)} for too few repeats ({span};"
                f" --repeats {gate.DEFAULT.min_repeats} or more on both runs arms it)"
            )
        if len(few) < len(idle):
            parts.append(
                f"{len(idle) - len(few)} for their numbers (a median of 0, values that are not"
                " numbers: see each figure's reason)"
            )
        return (
            f"gate not armed for {len(idle)} of {len(comparable)} figures, no regression there"
            f" can be detected: {'; '.join(parts)}"
        )


# --- comparison --------------------------------------------------------------------------


def symbol(mark: str, change_pct: float, min_effect: float) -> str:
    if mark in SYMBOLS:
        return SYMBOLS[mark]
    large = math.isfinite(change_pct) and abs(change_pct) >= min_effect * 100
    return "~" if large else " "


def compare_runs(
    a: RunData, b: RunData, *, force: bool = False, alpha: float = 0.01, seed: int = 0
) -> ComparisonResult:
    """Run b against run a (the baseline). Refuses runs that measured different things
    (NotComparableError naming every difference) unless `force`."""
    differences = tuple(check_comparable(a.meta, b.meta))
    if differences and not force:
        raise NotComparableError(differences)
    # The larger of the two plans' minimum effects: a step must matter to both to be called.
    effects = dict(a.run_meta.min_effects)
    for key, value in b.run_meta.min_effects.items():
        effects[key] = max(value, effects.get(key, value))
    frame = stats.compare(
        measured_frame(a), measured_frame(b), alpha=alpha, min_effects=effects, seed=seed
    )
    frame["symbol"] = [
        symbol(str(m), float(c), effects.get((str(w), str(k)), gate.MIN_EFFECT))
        for m, c, w, k in zip(
            frame["mark"], frame["change_pct"], frame["workload"], frame["metric"], strict=True
        )
    ]
    regressions = frame.loc[frame["mark"] == "worse"].reset_index(drop=True)
    return ComparisonResult(
        a=run_info(a),
        b=run_info(b),
        frame=frame,
        differences=differences,
        forced=bool(differences),
        regressions=regressions,
    )


# --- serializers -------------------------------------------------------------------------


def num(value: Any, digits: int = 4) -> str:
    """A figure for a table: 4 significant digits, "-" for a missing one."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "-"
    return f"{x:.{digits}g}" if math.isfinite(x) else "-"


def direction(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def _ratio(row: Mapping[Any, Any]) -> str:
    text = num(row["ratio"], 3)
    if math.isfinite(float(row["ratio_low"])) and math.isfinite(float(row["ratio_high"])):
        text += f" [{num(row['ratio_low'], 3)}, {num(row['ratio_high'], 3)}]"
    return text


def _change(value: Any) -> str:
    x = float(value)
    return f"{x:+.1f}%" if math.isfinite(x) else "-"


def _rows(result: ComparisonResult) -> list[dict[str, str]]:
    """The table's cells as text, shared by the text and the HTML forms."""
    rows = []
    for record in result.frame.to_dict("records"):
        rows.append(
            {
                "symbol": str(record["symbol"]),
                "mark": str(record["mark"]),
                "workload": str(record["workload"]),
                "metric": str(record["metric"]),
                "platform": str(record["platform"]),
                "unit": str(record["unit"]),
                "direction": direction(bool(record["higher_is_better"])),
                "median_a": num(record["median_a"]),
                "median_b": num(record["median_b"]),
                "n": f"{record['n_a']}/{record['n_b']}",
                "ratio": _ratio(record),
                "change": _change(record["change_pct"]),
                "p": num(record["p_value"], 2),
                "reason": str(record["reason"]),
            }
        )
    return rows


def _describe(info: RunInfo) -> str:
    return f"{info.run_id} ({info.date}, host {info.host}, accel {info.accel})"


def _summary_line(result: ComparisonResult) -> str:
    counts = ", ".join(f"{count} {mark}" for mark, count in result.counts().items())
    unarmed = result.unarmed()
    return f"{counts}\n{unarmed}" if unarmed else counts


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def comparison_text(result: ComparisonResult) -> str:
    """The comparison as a terminal table with asv's marks, then the legend and the counts."""
    out = [f"a: {_describe(result.a)}", f"b: {_describe(result.b)}"]
    if result.forced:
        out.append(
            "forced: compared although the runs differ ("
            + ", ".join(result.differences)
            + "); read the figures with care"
        )
    out.append(TWO_RUNS)
    out.append("ratio = b / a; change > 0 means b is worse, whichever way the metric points")
    out.append("")
    rows = _rows(result)
    if rows:
        headers = (
            "",
            "workload",
            "metric",
            "platform",
            "unit",
            "median a",
            "median b",
            "n a/b",
            "ratio b/a [95% CI]",
            "change",
            "p",
        )
        keys = (
            "symbol",
            "workload",
            "metric",
            "platform",
            "unit",
            "median_a",
            "median_b",
            "n",
            "ratio",
            "change",
            "p",
        )
        out.append(
            _text_table(headers, [[r[k] for k in keys] for r in rows], right={5, 6, 7, 9, 10})
        )
    else:
        out.append("no workload metric is present in both runs")
    notes = [r for r in rows if r["mark"] == "not comparable"]
    if notes:
        out.append("")
        out.extend(f"x {r['workload']}/{r['metric']}/{r['platform']}: {r['reason']}" for r in notes)
    out.append("")
    out.append("  ".join(f"{s if s != ' ' else '(blank)'} {label}" for s, _, label, _ in LEGEND))
    out.append(_summary_line(result))
    return "\n".join(out) + "\n"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # run ids, hosts and reasons come from files anyone could edit
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: Any) -> str:
    """A page from bench/report/templates, HTML-escaped by default."""
    return _environment().get_template(name).render(**context)


def comparison_html(result: ComparisonResult) -> str:
    """The comparison as one self-contained page (no script, no external URL)."""
    return render_template(
        "compare.html.j2",
        a=result.a,
        b=result.b,
        rows=_rows(result),
        forced=result.forced,
        differences=result.differences,
        counts=result.counts(),
        unarmed=result.unarmed(),
        legend=LEGEND,
        two_runs=TWO_RUNS,
    )
