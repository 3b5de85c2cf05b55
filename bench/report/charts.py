"""The report's charts: matplotlib figures serialised as inline SVG with a text alternative.

Pure: plain data in, SVG text out, no file or network access. The output is deterministic
(fixed hash salt and ids, no date, seeded jitter) so two renders of one run are identical,
and self-contained: glyphs are drawn as paths (no font to fetch), the XML prolog, DOCTYPE,
RDF metadata and namespace URIs are stripped (the HTML parser puts <svg> in the SVG
namespace by itself), and every id is prefixed per chart, because several SVGs share one
document and matplotlib would otherwise reuse ids such as the clip paths'.

Colours are the Okabe-Ito palette, safe for the common colour-vision deficiencies; every
platform also has its own marker shape and line style, so colour is never the only cue.

Over 400 lines on purpose: every chart shares the style, the SVG serialisation and the
sizing rules here; split apart, each piece would reach into the others' private helpers.
"""

from __future__ import annotations

import html
import io
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # matplotlib >= 3.8; a type only

FloatArray = npt.NDArray[np.float64]

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: Final = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
PLATFORM_STYLE: Final = {
    "native": (OKABE_ITO["blue"], "o", "-"),
    "docker": (OKABE_ITO["orange"], "s", "--"),
    "podman": (OKABE_ITO["black"], "P", ":"),
    "gvisor": (OKABE_ITO["sky"], "^", "-."),
    "libvirt": (OKABE_ITO["purple"], "D", ":"),
    "libvirt-tuned": (OKABE_ITO["green"], "v", "-."),  # the VM profiles (bench/platform_names)
    "libvirt-emulated": (OKABE_ITO["vermillion"], "X", "--"),
}
_OTHER_STYLE: Final = (OKABE_ITO["yellow"], "*", "-")
PHASE_COLOURS: Final = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["green"],
    OKABE_ITO["purple"],
    OKABE_ITO["sky"],
    OKABE_ITO["vermillion"],
)
PHASE_HATCHES: Final = ("", "//", "..", "xx", "\\\\", "++")
# More dots than this per platform turn into a blot and a slow page: a seeded sample is drawn.
MAX_DOTS: Final = 1500
MAX_POINTS: Final = 400  # per time-series line

_RC: Final[dict[RcKeyType, Any]] = {
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": "#222222",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 10.5,
    "path.simplify": True,
}
# Narrow on purpose: a phone shows the chart at about 360 px, and the text must stay legible.
_WIDTH_IN: Final = 5.2
LEGEND_COLUMNS: Final = 3  # what fits across _WIDTH_IN ("libvirt-emulated" is the longest)


@dataclass(frozen=True)
class Chart:
    key: str  # unique in the page: the prefix of every id inside the SVG
    svg: str
    alt: str


@dataclass(frozen=True)
class Strip:
    """One platform's measured values of one metric, with the summary's median and CI."""

    platform: str
    values: FloatArray
    median: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class MetricPanel:
    metric: str
    unit: str
    higher_is_better: bool
    strips: tuple[Strip, ...]


@dataclass(frozen=True)
class PhaseBar:
    label: str
    phases: tuple[tuple[str, float], ...]  # (phase name, median seconds), in boot order


@dataclass(frozen=True)
class Line:
    label: str
    platform: str
    t: FloatArray
    y: FloatArray


@dataclass(frozen=True)
class SeriesPanel:
    title: str
    ylabel: str
    lines: tuple[Line, ...]


def style_of(platform: str) -> tuple[str, str, str]:
    """(colour, marker, line style) of a platform."""
    return PLATFORM_STYLE.get(platform, _OTHER_STYLE)


# --- serialisation ------------------------------------------------------------------------

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
# matplotlib's <style>*{stroke-linejoin...}</style> would apply to the whole HTML page: the
# page's stylesheet says the same for its charts only.
_STYLE = re.compile(r"\s*<style[^>]*>.*?</style>", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_DIMENSION = re.compile(r'\s(?:width|height)="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(xlink:href="#|href="#|url\(#)([^")]+)')


@contextmanager
def _figure(key: str, height_in: float) -> Iterator[Figure]:
    salt = f"vcbench-{key}"
    rc: dict[RcKeyType, Any] = {**_RC, "svg.hashsalt": salt, "svg.id": "svg"}
    with rc_context(rc):
        # No layout engine: constrained layout measured every label twice and took half the
        # render time. Axes are placed in inches instead (_axes), from known text sizes.
        fig = Figure(figsize=(_WIDTH_IN, height_in))
        FigureCanvasAgg(fig)  # Agg: no display, no pyplot state shared between renders
        yield fig


# Inches taken by the text around an axes at the sizes in _RC.
_TITLE_IN: Final = 0.34
_XAXIS_IN: Final = 0.62  # tick labels and the x label
_TICKS_IN: Final = 0.3  # tick labels only
_CHAR_IN: Final = 0.085  # one character of an 11 pt tick label, about


def _locator(bins: int = 5) -> MaxNLocator:
    # Few ticks: each costs more to draw than a hundred dots, and the medians are labelled.
    return MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3)


def _axes(fig: Figure, top_in: float, height_in: float, left_in: float, right_in: float) -> Axes:
    """An axes whose plotting area starts top_in below the figure's top edge."""
    width, height = fig.get_size_inches()
    return fig.add_axes(
        (
            left_in / width,
            1 - (top_in + height_in) / height,
            (width - left_in - right_in) / width,
            height_in / height,
        )
    )


def _label_width(labels: Iterable[str]) -> float:
    return max((len(label) for label in labels), default=4) * _CHAR_IN + 0.22


def _svg(fig: Figure, key: str, alt: str) -> Chart:
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = _PROLOG.sub("", out.getvalue(), count=1)
    text = _METADATA.sub("", text)
    text = _STYLE.sub("", text)
    text = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text)
    end = text.index(">") + 1
    head, body = text[:end], text[end:]
    head = _NAMESPACES.sub("", head)
    # The page sizes the chart (width 100%, height from the viewBox): readable on a phone.
    head = _DIMENSION.sub("", head)
    head = head.replace(
        "<svg",
        f'<svg class="chart" role="img" aria-labelledby="{key}-title"',
        1,
    )
    title = f'\n <title id="{key}-title">{html.escape(alt, quote=False)}</title>'
    return Chart(key, (head + title + body).strip(), alt)


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.4g}"


def short(value: float, _pos: object = None) -> str:
    """A number in at most five characters: 55.6k, not 5.56e+04 (labels beside a chart)."""
    if not np.isfinite(value):
        return "-"
    if abs(value) < 1e4:
        return f"{value:.4g}"
    for divisor, suffix in ((1e3, "k"), (1e6, "M")):
        text = f"{value / divisor:.3g}"
        if abs(float(text)) < 1000:  # 999,999 rounds to 1e+03k: that is 1M
            return text + suffix
    return f"{value / 1e9:.3g}G"


def _rng(key: str) -> np.random.Generator:
    # crc32, not hash(): str hashes are salted per process, and the page must be reproducible.
    return np.random.default_rng(zlib.crc32(key.encode()))


# --- dots: every repeat, the median and its interval ---------------------------------------


def dots_chart(key: str, title: str, panels: Sequence[MetricPanel]) -> Chart:
    """One row of panels per metric: platforms on the y axis, every repeat as a jittered dot,
    the median as a black bar and its 95% interval as a grey band."""
    plots = [0.46 * max(len(p.strips), 1) + 0.1 for p in panels]
    left = _label_width(s.platform for p in panels for s in p.strips)
    with _figure(key, sum(plots) + len(panels) * (_TITLE_IN + _XAXIS_IN) + 0.05) as fig:
        top = _TITLE_IN
        for plot, panel in zip(plots, panels, strict=True):
            ax = _axes(fig, top, plot, left, 0.78)  # right: room for the medians' labels
            _dots_panel(ax, panel, _rng(f"{key}/{panel.metric}"))
            top += plot + _XAXIS_IN + _TITLE_IN
        return _svg(fig, key, _dots_alt(title, panels))


def _thin(values: FloatArray, rng: np.random.Generator) -> FloatArray:
    if values.size <= MAX_DOTS:
        return values
    return np.sort(rng.choice(values, MAX_DOTS, replace=False))


def _dots_panel(ax: Axes, panel: MetricPanel, rng: np.random.Generator) -> None:
    names = [s.platform for s in panel.strips]
    for row, strip in enumerate(panel.strips):
        colour, marker, _ = style_of(strip.platform)
        shown = _thin(strip.values, rng)
        jitter = rng.uniform(-0.2, 0.2, shown.size)
        if np.isfinite(strip.ci_low) and np.isfinite(strip.ci_high):
            ax.barh(
                row, strip.ci_high - strip.ci_low, left=strip.ci_low, height=0.62,
                color="#000000", alpha=0.13, linewidth=0,
            )  # fmt: skip
        # The median under the dots: with few repeats a dot must not vanish behind it.
        if np.isfinite(strip.median):
            ax.plot([strip.median] * 2, [row - 0.36, row + 0.36], color="#000000", lw=2.4, zorder=2)
        ax.scatter(
            shown, row + jitter, s=40, marker=marker, color=colour, alpha=0.85,
            edgecolors="white", linewidths=0.6, zorder=3,
        )  # fmt: skip
        if np.isfinite(strip.median):
            ax.annotate(
                short(strip.median), (1.0, row), xycoords=("axes fraction", "data"),
                xytext=(6, 0), textcoords="offset points", va="center", fontsize=10,
            )  # fmt: skip
    baseline = panel.strips[0] if panel.strips else None
    if baseline is not None and baseline.platform == "native" and np.isfinite(baseline.median):
        ax.axvline(baseline.median, color=style_of("native")[0], lw=1, ls="--", alpha=0.6)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first platform on top, as in the table
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    everything = np.concatenate([s.values for s in panel.strips]) if panel.strips else None
    if everything is not None and everything.size and np.nanmin(everything) >= 0:
        # Ratio-scale figures start at zero: a cut axis makes 2% look like a cliff.
        ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(_locator())
    ax.xaxis.set_major_formatter(FuncFormatter(short))
    arrow = "higher is better \u2192" if panel.higher_is_better else "\u2190 lower is better"
    ax.set_xlabel(f"{panel.unit}   ({arrow})")
    ax.set_title(panel.metric)


def _dots_alt(title: str, panels: Sequence[MetricPanel]) -> str:
    parts = []
    for panel in panels:
        direction = "higher is better" if panel.higher_is_better else "lower is better"
        figures = "; ".join(
            f"{s.platform} median {_fmt(s.median)}"
            + (
                f" (95% CI {_fmt(s.ci_low)} to {_fmt(s.ci_high)})"
                if np.isfinite(s.ci_low) and np.isfinite(s.ci_high)
                else ""
            )
            + f", n={s.values.size}"
            for s in panel.strips
        )
        parts.append(f"{panel.metric} in {panel.unit}, {direction}: {figures}")
    return f"{title}. Every repeat as a dot, with median and 95% interval. " + ". ".join(parts)


# --- start-up phases ------------------------------------------------------------------------


def phases_chart(key: str, title: str, bars: Sequence[PhaseBar]) -> Chart:
    """Median seconds of each start-up phase, stacked: where the time goes."""
    names = list(dict.fromkeys(name for bar in bars for name, _ in bar.phases))
    legend_rows = (len(names) + 1) // 2
    plot = 0.5 * len(bars)
    height = _TITLE_IN + plot + _XAXIS_IN + 0.28 * legend_rows + 0.15
    labels_in = _label_width(b.label for b in bars)
    with _figure(key, height) as fig:
        ax = _axes(fig, _TITLE_IN, plot, labels_in, 0.25)
        for row, bar in enumerate(bars):
            left = 0.0
            for name, seconds in bar.phases:
                i = names.index(name)
                ax.barh(
                    row, seconds, left=left, height=0.6, color=PHASE_COLOURS[i % 6],
                    hatch=PHASE_HATCHES[i % 6], edgecolor="white", linewidth=0.6,
                    label=name if row == bar_first_row(bars, name) else None,
                )  # fmt: skip
                left += seconds
            ax.annotate(
                f"{left:.3g} s", (left, row), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize=10,
            )  # fmt: skip
        ax.set_yticks(range(len(bars)), [b.label for b in bars])
        ax.set_ylim(len(bars) - 0.5, -0.5)
        longest = max((sum(s for _, s in b.phases) for b in bars), default=0.0)
        ax.set_xlim(0, longest * 1.25 or 1.0)  # room for the total beside the longest bar
        ax.xaxis.set_major_locator(_locator())
        ax.grid(axis="x")
        ax.set_xlabel("seconds (median of the repeats)")
        # From the figure's left edge, over the labels: above the axes alone, a long title
        # beside long labels ("libvirt-emulated: guest clock") ran off the right edge.
        ax.set_title(title, x=-(labels_in - 0.1) / (_WIDTH_IN - labels_in - 0.25))
        fig.legend(loc="lower center", ncols=2, bbox_to_anchor=(0.5, 0.0))
        alt = f"{title}, median seconds per phase. " + ". ".join(
            f"{b.label}: " + ", ".join(f"{n} {s:.3g} s" for n, s in b.phases) for b in bars
        )
        return _svg(fig, key, alt)


def bar_first_row(bars: Sequence[PhaseBar], name: str) -> int:
    """The first bar that has the phase: it alone labels it, so the legend lists it once."""
    return next(i for i, bar in enumerate(bars) if any(n == name for n, _ in bar.phases))


# --- time series ----------------------------------------------------------------------------


def series_chart(key: str, title: str, panels: Sequence[SeriesPanel]) -> Chart:
    """Collector readings over a trial: one line per platform and panel, one legend."""
    plot = 1.35
    names = list(dict.fromkeys(line.platform for panel in panels for line in panel.lines))
    columns = min(max(len(names), 1), LEGEND_COLUMNS)
    legend = 0.1 + 0.3 * -(-len(names) // columns)  # rows of up to three platforms
    gap = 0.12  # the panels share the x axis: only the last one labels it
    height = legend + len(panels) * (_TITLE_IN + plot + gap) - gap + _XAXIS_IN + 0.05
    with _figure(key, height) as fig:
        axes: list[Axes] = []
        for i, panel in enumerate(panels):
            top = legend + _TITLE_IN + i * (_TITLE_IN + plot + gap)
            ax = _axes(fig, top, plot, 0.95, 0.2)
            if axes:
                ax.sharex(axes[0])
            if i < len(panels) - 1:
                ax.tick_params(labelbottom=False)
            ax.xaxis.set_major_locator(_locator())
            ax.yaxis.set_major_locator(_locator(4))
            axes.append(ax)
            for line in panel.lines:
                colour, _, dash = style_of(line.platform)
                ax.plot(line.t, line.y, color=colour, ls=dash, lw=2, label=line.platform)
            ax.set_title(panel.title)
            if _spans_orders(panel.lines):
                # A VM's hundreds of MiB beside a container's two: linear would flatten one.
                ax.set_yscale("log")
                ax.set_ylabel(f"{panel.ylabel} (log scale)")
            else:
                ax.set_ylim(bottom=0)
                ax.set_ylabel(panel.ylabel)
            ax.grid(axis="y")
        axes[-1].set_xlabel("seconds since the trial started")
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in axes[1:]:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
        fig.legend(
            handles, labels, loc="upper center", ncols=columns, bbox_to_anchor=(0.5, 1.0),
        )  # fmt: skip
        return _svg(fig, key, _series_alt(title, panels))


def _spans_orders(lines: Sequence[Line]) -> bool:
    """True when the lines' typical levels differ by more than 30x (and are all positive)."""
    levels = [float(np.nanmedian(line.y)) for line in lines if np.isfinite(line.y).any()]
    if len(levels) < 2 or min(levels) <= 0:
        return False
    return max(levels) / min(levels) > 30


def _series_alt(title: str, panels: Sequence[SeriesPanel]) -> str:
    parts = []
    for panel in panels:
        lines = "; ".join(
            f"{line.label}: median {_fmt(float(np.nanmedian(line.y)))},"
            f" peak {_fmt(float(np.nanmax(line.y)))} over {_fmt(float(line.t[-1]))} s"
            for line in panel.lines
            if line.y.size and np.isfinite(line.y).any()
        )
        parts.append(f"{panel.title} ({panel.ylabel}): {lines or 'no readings'}")
    return f"{title}. " + ". ".join(parts)


def downsample_gauge(t: FloatArray, y: FloatArray, limit: int = MAX_POINTS) -> tuple[
    FloatArray, FloatArray
]:  # fmt: skip
    """Bucket means: a long trial keeps its shape in `limit` points."""
    if t.size <= limit:
        return t, y
    starts = np.linspace(0, t.size, limit, endpoint=False).astype(np.int64)
    counts = np.diff(np.append(starts, t.size))
    return np.add.reduceat(t, starts) / counts, np.add.reduceat(y, starts) / counts


def counter_rate(t: FloatArray, v: FloatArray, limit: int = MAX_POINTS) -> tuple[
    FloatArray, FloatArray
]:  # fmt: skip
    """Per-second rate of a cumulative counter, between at most `limit` + 1 readings: the
    rate over a wider interval is the time-weighted mean of the narrow ones, so thinning
    loses detail but never biases. A decrease is a counter reset: that interval is NaN."""
    if t.size < 2:
        return np.empty(0), np.empty(0)
    picks = np.unique(np.linspace(0, t.size - 1, min(t.size, limit + 1)).astype(np.int64))
    tt, vv = t[picks], v[picks]
    dt, dv = np.diff(tt), np.diff(vv)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((dt > 0) & (dv >= 0), dv / dt, np.nan)
    return (tt[1:] + tt[:-1]) / 2, rate
