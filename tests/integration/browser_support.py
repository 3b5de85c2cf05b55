"""Shared by the real-browser tests: headless Debian Chromium through selenium, opening a page
at a given viewport, and every URL a page asked for (from the performance log)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.conftest import unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
)


def start_chromium(profile: Path) -> Any:
    """A headless Chromium driven by Debian's chromedriver (named explicitly: selenium-manager
    would try to download one), with a fresh profile, the performance log (requests) and the
    console log on."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        unavailable("chromium", "apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        unavailable("selenium", str(exc))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    # A fresh profile: no cache, no extensions, nothing from an earlier run.
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:
        unavailable("chromium", str(exc).splitlines()[0])
    driver.set_page_load_timeout(60)
    return driver


def open_at(driver: Any, page: Path, width: int, height: int, mobile: bool) -> None:
    # Device metrics, not the window size: the viewport is then exactly width x height.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def requested(driver: Any) -> list[str]:
    """Every URL requested since the last call (the log is drained as it is read)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(str(message["params"]["request"]["url"]))
    return urls


def console_errors(driver: Any) -> list[str]:
    """The console's errors since the last call (a CSP violation or a broken resource)."""
    return [str(e["message"]) for e in driver.get_log("browser") if e["level"] == "SEVERE"]
