"""The cross-run index: every run listed, hosts apart, a real step flagged and noise not."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.steps import find_steps
from bench.data.results import load_run
from bench.data.run_history import HISTORY_COLUMNS, headline_samples, history_frame, scan
from bench.report.history import index_html, write_index, y_limits
from tests.unit.test_compare import TCG_RUN, make_run, noisy

DAY = 86_400.0
START = 1_790_000_000.0


def _host_runs(
    root: Path, rng: np.random.Generator, host: str, factors: list[float], first_day: int = 0
) -> list[str]:
    """One run a day on `host`: native throughput x factor, docker and start-up steady."""
    ids = []
    for i, factor in enumerate(factors):
        run_id = f"2026{first_day + i + 1:04d}-000000-{host}"
        make_run(
            root,
            run_id,
            {
                ("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000 * factor, n=5),
                ("cpu-sysbench", "events_per_s", "docker"): noisy(rng, 980, n=5),
                ("startup-warm", "startup_s", "docker"): noisy(rng, 0.3, n=5),
            },
            created=START + (first_day + i) * DAY,
            host=host,
        )
        ids.append(run_id)
    return ids


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """10 runs of host h1 with a 20% throughput drop after run 5, and 2 runs of host h2."""
    rng = np.random.default_rng(3)
    root = tmp_path / "results"
    _host_runs(root, rng, "h1", [1.0] * 5 + [0.8] * 5)
    # h2 is twice as slow: were the hosts mixed, that would be a step
    _host_runs(root, rng, "h2", [0.5, 0.5], first_day=10)
    return root


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if found.get("id"):
            self.ids.append(str(found["id"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


# --- data --------------------------------------------------------------------------------


def test_history_frame_has_a_row_per_run_metric_and_platform(results: Path) -> None:
    runs, _ = scan(results)
    frame = history_frame(runs)
    assert tuple(frame.columns) == HISTORY_COLUMNS
    assert len(frame) == 10 * 3 + 2 * 3
    assert list(frame["created"]) == sorted(frame["created"])
    assert set(frame["n"]) == {5}  # warm-ups and collector series left out
    first = frame.iloc[0]
    assert (first["host"], first["accel"], first["workload_hash"]) == (
        "h1",
        "kvm",
        "hash-cpu-sysbench",
    )
    assert first["median"] == pytest.approx(1000, rel=0.03)


def test_a_step_over_too_few_runs_is_not_flagged_the_run_is_the_unit(tmp_path: Path) -> None:
    """Three runs either side of a 20% drop: 15 repeats a side would pass the U test, but the
    repeats of a run share its noise; three runs against three cannot reach p < 0.01."""
    _host_runs(tmp_path, np.random.default_rng(3), "h1", [1.0] * 3 + [0.8] * 3)
    runs, _ = scan(tmp_path)
    assert find_steps(headline_samples(runs)).empty


def test_a_20_percent_step_is_flagged_once_where_it_happened(results: Path) -> None:
    runs, _ = scan(results)
    steps = find_steps(headline_samples(runs))
    assert len(steps) == 1
    step = steps.iloc[0]
    assert (step["host"], step["platform"], step["metric"]) == ("h1", "native", "events_per_s")
    assert (step["before_run_id"], step["run_id"]) == ("20260005-000000-h1", "20260006-000000-h1")
    assert step["mark"] == "worse" and step["p_value"] < 0.01
    assert step["change_pct"] == pytest.approx(20, abs=2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_alone_flags_nothing(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    _host_runs(tmp_path, rng, "h1", [1.0] * 8)
    runs, _ = scan(tmp_path)
    assert find_steps(headline_samples(runs)).empty


def test_a_step_in_the_medians_without_significance_is_not_flagged(tmp_path: Path) -> None:
    # Two samples a run: change_points sees the step, but 4 against 4 samples cannot reach
    # p < 0.01 (the smallest exact two-sided p is 2/70), so nothing is flagged.
    for i, level in enumerate([1000, 1000, 800, 800]):
        make_run(
            tmp_path,
            f"r{i}",
            {("cpu-sysbench", "events_per_s", "native"): [level] * 2},
            created=START + i * DAY,
        )
    runs, _ = scan(tmp_path)
    assert find_steps(headline_samples(runs)).empty


def test_series_never_cross_an_accel_or_definition_change(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    for i in range(6):
        make_run(
            tmp_path,
            f"r{i}",
            {("cpu-sysbench", "events_per_s", "native"): noisy(rng, 1000 if i < 3 else 800)},
            created=START + i * DAY,
            hashes={"cpu-sysbench": "old" if i < 3 else "new"},
        )
    runs, _ = scan(tmp_path)
    assert find_steps(headline_samples(runs)).empty


def test_y_limits_keep_small_noise_small() -> None:
    assert y_limits([0.298, 0.300, 0.301]) == pytest.approx((0.2845, 0.3145))
    assert y_limits([800.0, 1000.0]) is None  # a real spread: matplotlib's own limits


# --- the page ----------------------------------------------------------------------------


def test_index_lists_every_run_by_host_and_flags_the_step(results: Path, tmp_path: Path) -> None:
    (results / "broken").mkdir()
    (results / "broken" / "run.json").write_text("{not json")
    (results / "future").mkdir()
    (results / "future" / "run.json").write_text(json.dumps({"schema_version": 99}))
    (results / "scratch").mkdir()  # no run.json: not a run, not listed
    reports = tmp_path / "reports"
    (reports / "20260001-000000-h1").mkdir(parents=True)
    (reports / "20260001-000000-h1" / "index.html").write_text("report")

    path = write_index(results, reports)
    assert path == reports / "index.html"
    page = path.read_text()
    parsed = _parse(page)
    text = " ".join(parsed.text)

    run_links = {link for link in parsed.links if link.endswith("/index.html")}
    expected = {f"2026{d:04d}-000000-h1/index.html" for d in range(1, 11)}
    expected |= {f"2026{d:04d}-000000-h2/index.html" for d in (11, 12)}
    assert expected <= run_links
    assert text.count("report not generated yet") == 11  # one report exists

    # hosts apart: a section each, and each chart speaks of its own host's runs only
    h1 = page[page.index("Host h1") : page.index("Host h2")]
    h2 = page[page.index("Host h2") :]
    assert "-h2/index.html" not in h1 and "-h1/index.html" not in h2
    assert re.search(r"<title id=\"c0-0-title\">Trend of cpu-sysbench events_per_s .* 10 runs", h1)
    assert re.search(r"<title id=\"c1-0-title\">Trend of cpu-sysbench events_per_s .* 2 runs", h2)

    # the step: in the chart's text alternative and in the table, on h1 only
    assert "step before run 20260006-000000-h1: native +" in h1
    assert "20260005-000000-h1 &rarr;" in h1 and "worse" in h1
    assert "No significant change in any series." in h2

    # skipped, with the reason
    assert "Skipped 2 directories" in text
    assert "broken" in text and "unreadable" in text
    assert "future" in text and "schema version 99" in text
    assert "scratch" not in text


def test_index_is_self_contained_and_valid(results: Path, tmp_path: Path) -> None:
    page = write_index(results, tmp_path / "reports").read_text()
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not re.search(r"https?://", page)  # no URL at all: nothing to load, nothing to leak
    assert "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in page
    assert len(parsed.ids) == len(set(parsed.ids))  # chart ids made unique across charts
    assert page.count('role="img"') == page.count("<svg") == 4  # 2 headlines x 2 hosts
    assert '<meta name="viewport"' in page and "@media print" in page


def test_charts_are_deterministic(results: Path) -> None:
    runs, skipped = scan(results)
    first = index_html(runs, skipped, results)
    assert index_html(runs, skipped, results) == first


def test_index_of_the_fixture_and_of_nothing(tmp_path: Path) -> None:
    run = load_run(TCG_RUN)
    frame = history_frame([run])
    assert set(frame["workload"]) == {"cpu-sysbench", "startup-warm"}
    assert set(frame["platform"]) == {"native", "docker", "libvirt"}
    page = index_html([run], [], tmp_path)
    assert "TCG:" in page and "20261123-201342-6f5536/index.html" in page
    empty = write_index(tmp_path / "missing", tmp_path / "reports").read_text()
    assert "No runs yet" in empty


def test_run_files_cannot_inject_markup_or_break_the_charts(tmp_path: Path) -> None:
    make_run(
        tmp_path,
        "x",
        {("cpu-sysbench", "events_per_s", "a$b"): [1.0]},  # "$" would start mathtext
        host="<b>evil</b>",
    )
    page = index_html(*scan(tmp_path), tmp_path)
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "a$b 1 to 1 over 1 runs" in page  # the chart's text alternative


def test_headline_cells_list_platforms_in_the_one_platform_order() -> None:
    import pandas as pd

    from bench.report.history import _headline_cells

    rows = [("libvirt-emulated", 337.4), ("docker", 1805.0), ("native", 1791.0), ("libvirt", 321.0)]
    history = pd.DataFrame(
        [
            {"run_id": "r", "workload": "cpu", "metric": "eps", "platform": p, "median": m}
            for p, m in rows
        ]
    )
    cell = _headline_cells(history, "r")[("cpu", "eps")]
    assert [part.split()[0] for part in cell.split(" · ")] == [
        "native",
        "docker",
        "libvirt",
        "libvirt-emulated",
    ]
