"""The published site in a real browser (headless Chromium): the index lists every run of two
hosts, each link opens that run's page without a console error, and nothing is fetched from
outside the site.

Needs the Debian packages chromium and chromium-driver, and selenium; no daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.report.site import publish
from tests.integration.browser_support import console_errors, requested, start_chromium
from tests.unit.test_publish import RUN_IDS, host_copy

HOSTS = ("alpha", "beta")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published")
    sources = [host_copy(root / host, host) for host in HOSTS]
    return publish(root / "site", sources).index.parent


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def _inside(urls: list[str], site: Path) -> list[str]:
    """The URLs that are neither a file of the site nor inline data."""
    root = site.resolve().as_uri() + "/"
    return [u for u in urls if not (u.startswith(root) or u.startswith("data:"))]


def test_the_index_links_every_run_of_both_hosts_and_each_opens(browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By

    index = site / "index.html"
    requested(browser)  # drain what an earlier page logged
    console_errors(browser)
    browser.get(index.as_uri())
    run_links = {
        a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, "section a[href]")
        if "#" not in (a.get_attribute("href") or "")
    }
    expected = {(site / h / r / "index.html").resolve().as_uri() for h in HOSTS for r in RUN_IDS}
    assert run_links == expected
    sections = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
    assert [s for s in sections if s.startswith("Host ")] == [f"Host {h}" for h in HOSTS]

    for href in sorted(expected):
        browser.get(index.as_uri())
        link = browser.find_element(By.CSS_SELECTOR, f'a[href="{_relative(href, site)}"]')
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
        assert browser.current_url == href
        assert browser.execute_script("return document.readyState") == "complete"
        run_id = href.split("/")[-2]
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Run {run_id}"
        assert browser.find_element(By.CSS_SELECTOR, "table.summary").is_displayed()
        assert console_errors(browser) == [], href

    urls = requested(browser)
    assert index.resolve().as_uri() in urls and expected <= set(urls)  # the log saw the pages
    assert _inside(urls, site) == []


def _relative(href: str, site: Path) -> str:
    return href.removeprefix(site.resolve().as_uri() + "/")
