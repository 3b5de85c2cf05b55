"""The run report: one self-contained, parseable page that says what the run measured, with
every warning, every failure and nothing fetched from anywhere."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.claims import VERDICTS
from bench.cli import main as cli
from bench.cli.report import report_command
from bench.data.results import load_run
from bench.report import charts
from bench.report.raw_links import safe_rel
from bench.report.render import CSP, render_run, write_report
from bench.report.summary_table import number_text
from bench.report.time_series import load_series, series_trials
from bench.report.workload_method import fill_placeholders

RUNS = Path(__file__).parents[1] / "fixtures" / "runs"
TCG_RUN = RUNS / "20261123-201342-6f5536"  # native, docker, libvirt under TCG
HOST_RUN = RUNS / "20261123-201332-333c1d"  # native and docker only
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "col", "source", "area", "base"}
# SVG elements matplotlib writes self-closed: html.parser reports them as startendtag.
EXTERNAL = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)\s*([^"')\s>]+)""", re.I)


class Page(HTMLParser):
    """Parses the page, checks that elements nest, and keeps what the tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert not page.errors, page.errors[:5]
    assert page.stack == [], f"unclosed: {page.stack}"
    return page


@pytest.fixture(scope="module")
def tcg_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("tcg-report")
    return write_report(TCG_RUN, out).read_text()


@pytest.fixture(scope="module")
def host_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("host-report")
    return write_report(HOST_RUN, out).read_text()


def copy_run(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def article(text: str, workload: str) -> str:
    start = text.index(f'<article class="workload" id="w-{workload}"')
    return text[start : text.index("</article>", start)]


# --- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tcg_html", "host_html"])
def test_the_page_parses_and_nests(which: str, request: pytest.FixtureRequest) -> None:
    page = parse(request.getfixturevalue(which))
    assert page.tags[0][0] == "html"


@pytest.mark.parametrize(
    ("which", "platforms"),
    [("tcg_html", ["native", "docker", "libvirt"]), ("host_html", ["native", "docker"])],
)
def test_summary_table_has_the_platforms_as_column_headers(
    which: str, platforms: list[str], request: pytest.FixtureRequest
) -> None:
    text = request.getfixturevalue(which)
    table = text[text.index('<table class="summary">') : text.index("</table>")]
    assert "<caption" in table
    headers = re.findall(r'<th scope="col" class="plat">([a-z]+)', table)
    assert headers == platforms
    assert 'scope="row"' in table and 'scope="rowgroup"' in table


@pytest.mark.parametrize(("which", "run"), [("tcg_html", TCG_RUN), ("host_html", HOST_RUN)])
def test_every_workload_has_a_chart_with_a_text_alternative(
    which: str, run: Path, request: pytest.FixtureRequest
) -> None:
    text = request.getfixturevalue(which)
    workloads = [w["name"] for w in json.loads((run / "run.json").read_text())["plan"]["workloads"]]
    assert workloads
    for name in workloads:
        part = article(text, name)
        svgs = re.findall(r"<svg\b[^>]*>\s*<title id=\"([^\"]+)\">([^<]{20,})</title>", part)
        assert svgs, f"{name}: no chart with a title"
        for title_id, alt in svgs:
            assert f'aria-labelledby="{title_id}"' in part
            assert 'role="img"' in part
            assert "median" in alt or "seconds" in alt or "MiB" in alt


def test_svg_ids_are_unique_in_the_page(tcg_html: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', tcg_html)
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, sorted(duplicates)[:5]


def test_tcg_banner_only_when_the_vm_was_emulated(tcg_html: str, host_html: str) -> None:
    banner = "VM figures measure software emulation (TCG), not hardware virtualisation"
    assert banner in tcg_html
    assert 'class="banner tcg" role="alert"' in tcg_html
    assert "TCG emulation" in tcg_html  # the libvirt column says so too
    assert banner not in host_html


@pytest.mark.parametrize("which", ["tcg_html", "host_html"])
def test_nothing_external(which: str, request: pytest.FixtureRequest) -> None:
    text = request.getfixturevalue(which)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "@import" not in text
    for target in EXTERNAL.findall(text):
        assert not target.startswith("//"), target
        assert not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("data:"), (
            target
        )


@pytest.mark.parametrize("which", ["tcg_html", "host_html"])
def test_csp_meta_tag(which: str, request: pytest.FixtureRequest) -> None:
    text = request.getfixturevalue(which)
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in text
    head = text[: text.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<style>")


def test_banner_facts_and_warnings_with_advice(tcg_html: str) -> None:
    for fact in ("vm (x86_64", "tcg", "1 vCPU, 1024 MiB, pinned to CPU 0", "2026-11-23"):
        assert fact in tcg_html
    assert "few-repeats" in tcg_html and "What to do:" in tcg_html


def test_startup_phases_and_footprint_charts(tcg_html: str) -> None:
    startup = article(tcg_html, "startup-warm")
    assert "Where the start-up time goes" in startup
    assert "guest kernel" in startup  # the VM's own clock, stacked
    footprint = article(tcg_html, "idle-footprint")
    assert "memory_mib" in footprint and "cpu_pct" in footprint
    assert "memory and CPU over one trial" in footprint  # the collectors' time series


def test_references_beside_measured_and_tcg_not_comparable(tcg_html: str) -> None:
    refs = tcg_html[tcg_html.index('id="references"') : tcg_html.index('id="workloads"')]
    assert "Felter et al. 2015" in refs
    assert "not comparable: TCG" in refs


def test_method_section_formats_placeholders_and_links_raw_outputs(tcg_html: str) -> None:
    part = article(tcg_html, "cpu-sysbench")
    assert "sysbench cpu --cpu-max-prime=20000 --threads=1 --time=1 run" in part
    assert "pinned to CPU 0" in part
    links = re.findall(r'href="([^"#][^"]*)"', part)
    assert any(link.endswith("raw/r0-cpu-sysbench-native.stdout") for link in links)
    assert any("/logs/" in link for link in links)


def test_links_resolve_from_wherever_the_report_is_written(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "deeper"
    page = write_report(TCG_RUN, out)
    hrefs = [h for h in re.findall(r'href="([^"]+)"', page.read_text()) if not h.startswith("#")]
    assert hrefs
    for href in hrefs:
        assert not href.startswith("/")
        assert (out / href).resolve().is_file(), href


def test_render_is_deterministic() -> None:
    run = load_run(HOST_RUN)
    series = load_series(
        HOST_RUN / "timeseries.jsonl",
        {tid for per in series_trials(run).values() for tid in per.values()},
    )
    assert render_run(run, series=series) == render_run(run, series=series)


# --- failures, bad input -------------------------------------------------------------------


def test_a_failed_trial_shows_in_the_failed_table(tmp_path: Path) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    failed = {
        "trial_id": "r9-cpu-sysbench-docker", "round": 9, "workload": "cpu-sysbench",
        "workload_hash": "84a1e6336fedc780", "platform": "docker", "warmup": False,
        "status": "failed", "started": 1795464900.0, "ended": 1795464901.0,
        "instance": "vcbench-x-docker-9", "accel": "host",
        "error": "sysbench exited 1: <out of memory>", "cause": "exit-code",
        "raw": ["raw/r9-cpu-sysbench-docker.stdout"],
    }  # fmt: skip
    (run_dir / "raw" / "r9-cpu-sysbench-docker.stdout").write_text("FATAL\n")
    with (run_dir / "trials.jsonl").open("a") as out:
        out.write(json.dumps(failed) + "\n")
    text = write_report(run_dir, run_dir / "report").read_text()
    parse(text)
    start = text.index('<table class="failed">')
    table = text[start : text.index("</table>", start)]
    assert "r9-cpu-sysbench-docker" in table and "exit-code" in table
    assert "sysbench exited 1: &lt;out of memory&gt;" in table  # escaped, not markup
    assert 'href="../raw/r9-cpu-sysbench-docker.stdout"' in table
    assert "1 of 5 trials failed" in text  # the run warning, with its advice


def test_a_skipped_pair_is_explained_where_its_cell_is_blank(tmp_path: Path) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    reason = "gVisor refuses <O_DIRECT>"
    skipped = {
        "kind": "skipped", "message": f"cpu-sysbench does not run on gvisor: {reason}",
        "advice": "`vcbench workloads` lists what runs where, and why not", "at": 1.0,
        "data": {"workload": "cpu-sysbench", "platform": "gvisor", "reason": reason},
    }  # fmt: skip
    with (run_dir / "events.jsonl").open("a") as out:
        out.write(json.dumps(skipped) + "\n")
    text = render_run(load_run(run_dir))
    parse(text)
    assert "1 workload/platform pair not run" in text
    assert "cpu-sysbench on gvisor" in text and "gVisor refuses &lt;O_DIRECT&gt;" in text


def test_text_from_the_results_is_escaped(tmp_path: Path) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["plan"]["workloads"][0]["description"] = '<script>alert("x")</script>'
    meta["fingerprint"]["hostname"] = "<b>host</b>"
    (run_dir / "run.json").write_text(json.dumps(meta))
    text = render_run(load_run(run_dir))
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "&lt;b&gt;host&lt;/b&gt;" in text


def test_an_unfinished_run_says_so(tmp_path: Path) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    (run_dir / "events.jsonl").unlink()
    text = render_run(load_run(run_dir))
    assert "unfinished" in text and "--resume" in text


def test_a_run_without_samples_renders(tmp_path: Path) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    for name in ("samples.jsonl", "trials.jsonl", "timeseries.jsonl"):
        (run_dir / name).unlink()
    parse(write_report(run_dir, run_dir / "report").read_text())


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    if "report" not in cli.cli.commands:  # the lead registers it in bench/cli/main.py
        cli.cli.add_command(report_command)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_old_schema_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = copy_run(HOST_RUN, tmp_path)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["schema_version"] = 0
    (run_dir / "run.json").write_text(json.dumps(meta))
    cli._OPTIONS.debug = False
    code, _, err = run_cli(["report", str(run_dir), "-o", str(tmp_path / "out")], capsys)
    assert code == 2
    assert err.startswith("vcbench: error: ") and "schema version 0" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_report_command_prints_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if "report" not in cli.cli.commands:
        cli.cli.add_command(report_command)
    cli.main(["report", str(HOST_RUN), "-o", str(tmp_path)])  # returns: no SystemExit on success
    out, _ = capsys.readouterr()
    assert out.strip() == str(tmp_path / "index.html")


def test_report_needs_a_run_or_index(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["report"], capsys)
    assert code == 2 and "no run given" in err


# --- pieces ----------------------------------------------------------------------------------


def test_links_stay_inside_the_run_directory() -> None:
    assert safe_rel("raw/r0-x.stdout")
    for bad in ("https://example.org/x", "//host/x", "/etc/passwd", "../x", "raw/../../x", ""):
        assert not safe_rel(bad), bad


def test_placeholders_filled_when_known() -> None:
    assert fill_placeholders("a {file_size_mib} MiB file at {address}", {"file_size_mib": 64}) == (
        "a 64 MiB file at {address}"
    )
    assert fill_placeholders("braces {} and {0} stay", {}) == "braces {} and {0} stay"


def test_numbers_read_without_exponents() -> None:
    assert number_text(55_612.3) == "55,610"
    assert number_text(1716.4) == "1,716"
    assert number_text(0.000711) == "0.000711"
    assert number_text(float("nan")) == "-"


def test_counter_rate_skips_resets_and_thins() -> None:
    t = np.arange(6, dtype=np.float64)
    v = np.array([0.0, 1.0, 2.0, 0.5, 1.5, 2.5])
    mid, rate = charts.counter_rate(t, v)
    assert list(mid) == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert np.isnan(rate[2]) and np.allclose(rate[[0, 1, 3, 4]], 1.0)
    long_t = np.linspace(0, 100, 10_001)
    mid, rate = charts.counter_rate(long_t, long_t * 2.0, limit=100)
    assert mid.size == 100 and np.allclose(rate, 2.0)


def test_gauges_downsample_to_bucket_means() -> None:
    t = np.arange(1000, dtype=np.float64)
    t2, y2 = charts.downsample_gauge(t, t.copy(), limit=10)
    assert t2.size == 10 and np.allclose(t2, y2) and y2[0] == pytest.approx(49.5)


# --- claims --------------------------------------------------------------------------------


def claims_part(text: str) -> str:
    start = text.index('<section id="claims"')
    return text[start : text.index("</section>", start)]


@pytest.mark.parametrize("which", ["tcg_html", "host_html"])
def test_claims_section_has_every_claim_with_a_verdict_in_words(
    which: str, request: pytest.FixtureRequest
) -> None:
    text = request.getfixturevalue(which)
    part = claims_part(text)
    assert text.index('id="claims"') < text.index('id="workloads"')  # near the top
    ids = re.findall(r'<tr class="claim" id="claim-(c\d+)">', part)
    assert ids == [f"c{i}" for i in range(1, 14)]
    assert part.count("<details") == 13
    badges = re.findall(r'<span class="badge">([^<]+)</span>', part)
    assert len(badges) == 13
    assert set(badges) <= set(VERDICTS)
    assert "vcbench run --experiments kernel" in part  # what to run, where not measured


def test_claims_section_under_tcg_says_so_and_sets_published_figures_beside(
    tcg_html: str, host_html: str
) -> None:
    part = claims_part(tcg_html)
    assert "the VM figures measure emulation, not virtualisation" in part
    assert "Firecracker" in part and "&lt;= 125 ms" in part
    c3 = part[part.index('id="claim-c3"') : part.index('id="claim-c4"')]
    badge = re.search(r'<span class="badge">([^<]+)</span>', c3)
    assert badge is not None and badge.group(1) == "inconclusive"  # two repeats a side
    assert "accel=tcg" in c3 and "[312.3" in c3 and "too few repeats" in c3
    assert "the VM figures measure emulation" not in claims_part(host_html)


def test_a_column_says_what_runs_its_figures() -> None:
    import pandas as pd

    from bench.report.run_frames import platform_tags

    frame = pd.DataFrame(
        {"platform": ["gvisor", "libvirt", "docker"], "accel": ["runsc-ptrace", "tcg", "host"]}
    )
    platforms = ["docker", "gvisor", "libvirt"]
    assert platform_tags(frame, platforms, "tcg") == {
        "gvisor": "runsc ptrace",
        "libvirt": "TCG emulation",
    }
    assert platform_tags(frame, platforms, "kvm") == {"gvisor": "runsc ptrace"}
