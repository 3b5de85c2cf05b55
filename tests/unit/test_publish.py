"""`vcbench publish`: two hosts' results merged into one site, hosts kept apart, run ids that
collide across hosts kept apart, a bad OUT refused in one line, unreadable runs only warned."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main as cli
from bench.core.errors import BenchError
from bench.data.results import load_run
from bench.report import site as pub
from bench.report.site import MARKER, check_out, gather, host_dir, locate, publish

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
RUN_IDS = sorted(p.name for p in FIXTURES.iterdir())


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`vcbench ARGS` through the real entry point: (exit code, stdout, stderr)."""
    code = 0
    try:
        cli.main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def host_copy(root: Path, host: str) -> Path:
    """The fixture runs as if measured on `host` (the fingerprint's hostname is the host)."""
    for run_id in RUN_IDS:
        target = root / run_id
        shutil.copytree(FIXTURES / run_id, target)
        meta = json.loads((target / "run.json").read_text())
        meta["fingerprint"]["hostname"] = host
        (target / "run.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def two_hosts(tmp_path: Path) -> tuple[Path, Path]:
    return host_copy(tmp_path / "alpha", "alpha"), host_copy(tmp_path / "beta", "beta")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(v or "" for k, v in attrs if k in ("href", "src"))


def links(page: Path) -> list[str]:
    parser = Links()
    parser.feed(page.read_text())
    return parser.urls


def test_two_hosts_with_the_same_run_ids_get_a_page_each(
    two_hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    done = publish(out, two_hosts)
    assert (done.runs, done.hosts, done.skipped) == (4, 2, ())
    expected = {f"{host}/{run_id}/index.html" for host in ("alpha", "beta") for run_id in RUN_IDS}
    index_links = {u for u in links(out / "index.html") if not u.startswith("#")}
    assert index_links == expected
    for rel in expected:
        page = out / rel
        assert page.is_file()
        for url in links(page):  # every raw output and log the page links is in the site
            assert url.startswith("#") or (page.parent / url).is_file(), url
    text = (out / "index.html").read_text()
    assert "Host alpha" in text and "Host beta" in text and "4 runs on 2 hosts" in text


def test_every_url_in_the_site_stays_inside_it(
    two_hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    publish(out, two_hosts)
    for page in out.rglob("*.html"):
        for url in links(page):
            assert ":" not in url and not url.startswith(("/", "//")), (page, url)
            assert (page.parent / url.split("#")[0]).resolve().is_relative_to(out.resolve())


def test_a_headline_cell_never_mixes_two_hosts_runs_of_the_same_id(tmp_path: Path) -> None:
    """Same run id on both hosts, different figures: each host's row shows its own."""
    alpha = host_copy(tmp_path / "alpha", "alpha")
    beta = host_copy(tmp_path / "beta", "beta")
    samples = beta / RUN_IDS[0] / "samples.jsonl"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    for row in rows:
        if row["metric"] == "events_per_s":
            row["value"] = 1.0  # beta is a very slow host
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "site"
    publish(out, (alpha, beta))
    text = (out / "index.html").read_text()
    beta_section = text[text.index("Host beta") :]
    alpha_section = text[text.index("Host alpha") : text.index("Host beta")]
    assert "native 1 " in beta_section or "native 1<" in beta_section
    assert "native 1 " not in alpha_section and "native 1<" not in alpha_section


def test_a_flagged_step_links_the_run_page_of_its_own_host(tmp_path: Path) -> None:
    from tests.unit.test_history import _host_runs

    rng = np.random.default_rng(3)
    source = tmp_path / "results"
    ids = _host_runs(source, rng, "h1", [1.0] * 5 + [0.8] * 5)  # 5 runs a side arm the gate
    _host_runs(source, rng, "h2", [0.5, 0.5], first_day=10)
    out = tmp_path / "site"
    publish(out, [source])
    urls = [u for u in links(out / "index.html") if not u.startswith("#")]
    assert urls.count(f"h1/{ids[5]}/index.html") == 2  # the run's row and the step's link
    assert all((out / u).is_file() for u in urls)


def test_the_same_run_in_two_sources_is_published_once(tmp_path: Path) -> None:
    first = host_copy(tmp_path / "branch", "alpha")
    second = host_copy(tmp_path / "artifact", "alpha")
    runs = [load_run(first / r) for r in RUN_IDS]
    fewer = load_run(second / RUN_IDS[1])
    fewer = type(fewer)(fewer.directory, fewer.meta, fewer.trials[:1], (), (), ())
    merged = gather([(runs, []), ([fewer], [])])
    assert [r.where for r in merged.runs] == [f"alpha/{r}" for r in RUN_IDS]
    assert all(r.run.directory.parent == first for r in merged.runs)  # the fuller copy


def test_host_names_become_safe_distinct_directories() -> None:
    assert host_dir("ci-host-1.example") == "ci-host-1.example"
    assert "/" not in host_dir("../../etc") and not host_dir("../../etc").startswith(".")
    assert host_dir("a b") != host_dir("a-b") and host_dir("") != ""
    assert locate("alpha", "../x").count("/") == 1


def test_publishing_again_replaces_the_site_and_leaves_nothing_behind(
    two_hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    publish(out, two_hosts[:1])
    first = (out / "index.html").read_text()
    publish(out, two_hosts[:1])
    assert (out / "index.html").read_text() == first
    publish(out, two_hosts)
    assert (out / "beta").is_dir() and (out / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha", "beta", "site"]


def test_the_site_can_be_republished_from_inside_it(
    two_hosts: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    publish(site, two_hosts[:1])
    monkeypatch.chdir(site)
    done = publish(Path("."), two_hosts)
    assert done.index == site / "index.html" and done.hosts == 2


def test_an_unreadable_run_is_a_warning_not_a_failure(
    two_hosts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = two_hosts[0] / "20261124-000000-broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"schema_version": 99}')
    out = tmp_path / "site"
    code, stdout, err = run_main(
        ["publish", str(out), "--from", str(two_hosts[0]), "--from", str(two_hosts[1])], capsys
    )
    assert code == 0 and stdout.splitlines()[-1] == str(out / "index.html")
    assert "warning: skipped 20261124-000000-broken" in err
    assert "20261124-000000-broken" in (out / "index.html").read_text()


@pytest.mark.parametrize("case", ["file", "foreign", "missing-source"])
def test_a_bad_out_or_source_is_one_line_exit_2(
    case: str, two_hosts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    source = two_hosts[0]
    if case == "file":
        out.write_text("not a directory")
    elif case == "foreign":
        out.mkdir()
        (out / "precious.txt").write_text("mine")
    else:
        source = tmp_path / "no-such-results"
    code, stdout, err = run_main(["publish", str(out), "--from", str(source)], capsys)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("vcbench: error: ")
    if case == "foreign":
        assert (out / "precious.txt").read_text() == "mine"


def test_an_unwritable_parent_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root may write anywhere, so the permission answer is faked; the refusal is real.
    monkeypatch.setattr(pub.os, "access", lambda path, mode: False)
    with pytest.raises(BenchError, match="not writable"):
        check_out(tmp_path / "site")
