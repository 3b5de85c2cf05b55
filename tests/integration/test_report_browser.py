"""The run report in a real browser (headless Chromium): it lays out at a desktop width and
at a phone's, its summary and charts are visible, and opening it fetches nothing.

Needs the Debian packages chromium and chromium-driver, and selenium. Screenshots are saved
in the test's tmp_path for a look.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.report.render import write_report
from tests.integration.browser_support import open_at, requested, start_chromium

RUN = Path(__file__).parents[1] / "fixtures" / "runs" / "20261123-201342-6f5536"
SIZES = {"desktop": (1280, 900, False), "phone": (390, 844, True)}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Written away from the run directory, so the relative links are exercised too.
    return write_report(RUN, tmp_path_factory.mktemp("report") / "out")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.mark.parametrize("size", list(SIZES))
def test_report_in_a_browser(browser: Any, report: Path, size: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    width, height, mobile = SIZES[size]
    requested(browser)  # drain what an earlier page logged
    open_at(browser, report, width, height, mobile)
    shot = tmp_path / f"report-{size}.png"
    assert browser.save_screenshot(str(shot))

    table = browser.find_element(By.CSS_SELECTOR, "table.summary")
    assert table.is_displayed()
    headers = [h.text.split("\n")[0] for h in table.find_elements(By.CSS_SELECTOR, "th.plat")]
    assert headers == ["native", "docker", "libvirt"]
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    workloads = browser.find_elements(By.CSS_SELECTOR, "article.workload")
    assert len(workloads) == 4 and len(charts) >= 2 * len(workloads)
    for chart in charts:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
        assert chart.is_displayed()
        assert chart.size["width"] > 0.8 * min(width - 60, 500) and chart.size["height"] > 100
    assert browser.find_element(By.CSS_SELECTOR, ".banner.tcg").is_displayed()
    # Wide tables scroll inside their own box: the page itself never scrolls sideways.
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert page_width <= width

    page = report.as_uri()
    urls = requested(browser)
    assert page in urls  # the log saw the page load: an empty list would prove nothing
    others = [u for u in urls if u != page and not u.startswith("data:")]
    assert others == [], others

    # The full page, for a look at the layout (the viewport shot above is what a reader sees).
    full = browser.execute_script("return document.documentElement.scrollHeight")
    open_at(browser, report, width, min(int(full), 16000), mobile)
    browser.save_screenshot(str(tmp_path / f"report-{size}-full.png"))
    keep = Path(str(shot)).with_name(f"report-{size}-full.png")
    assert keep.stat().st_size > 10_000
    if dest := _keep_dir():
        shutil.copy(shot, dest / shot.name)
        shutil.copy(keep, dest / keep.name)


def _keep_dir() -> Path | None:
    """VCBENCH_SCREENSHOTS=DIR keeps the screenshots after the test (for design reviews)."""
    import os

    value = os.environ.get("VCBENCH_SCREENSHOTS")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("size", list(SIZES))
def test_claims_section_in_a_browser(browser: Any, report: Path, size: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    width, height, mobile = SIZES[size]
    open_at(browser, report, width, height, mobile)
    rows = browser.find_elements(By.CSS_SELECTOR, "table.claims tr.claim")
    assert len(rows) == 13
    for row in rows:
        summary = row.find_element(By.CSS_SELECTOR, "details > summary")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
        summary.click()
        details = row.find_element(By.CSS_SELECTOR, "details")
        assert details.get_attribute("open") is not None
        reason = details.find_element(By.CSS_SELECTOR, "p")
        assert reason.is_displayed() and reason.text
        badge = row.find_element(By.CSS_SELECTOR, ".badge")
        assert badge.is_displayed() and badge.text  # the verdict in words, not colour alone
    assert browser.save_screenshot(str(tmp_path / f"claims-{size}.png"))
    # Every claim open, the page still never scrolls sideways.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
