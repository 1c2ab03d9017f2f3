"""The HTML report in a real headless Chromium (Debian's, driven by Playwright; no browser is ever downloaded):
self-contained, names shown as text even when they look like markup, readable at 1400 and 800 pixels."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from custody.inventory import render
from custody.inventory.reporting import build_report

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
EVIL_PROJECT = "<script>document.title='pwned'</script>"
EVIL_SECRET = "<img src=x onerror=\"document.title='pwned'\">"


def hostile_scan(tmp_path: Path) -> Path:
    finding = {"repo": "evil", "file": ".github/workflows/x.yml", "line": 3, "job": "j", "tool": "twine",
               "method": "token", "index": "pypi", "secret": EVIL_SECRET, "project": EVIL_PROJECT,
               "platform": "github", "credential": "env: TWINE_PASSWORD", "id_token": False}
    path = tmp_path / "scan.json"
    path.write_text(json.dumps({"findings": [finding], "repos": [], "warnings": []}))
    return path


@pytest.fixture(scope="module")
def browser() -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser checks skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def page_of(browser: Any, html: str, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (requests.append("dialog"), d.dismiss()))
    page.set_content(html, wait_until="load")
    page.requests = requests
    return page


def test_markup_in_names_shows_as_text(browser: Any, tmp_path: Path) -> None:
    r = build_report([hostile_scan(tmp_path)], [], [FIXTURES / "pypi"], False, [])
    page = page_of(browser, render.report_html(r), 1400)
    assert page.title() == "custody inventory report"
    assert page.evaluate("document.querySelectorAll('script, img').length") == 0
    body = page.inner_text("body")
    assert EVIL_PROJECT in body and EVIL_SECRET in body
    assert page.requests == []  # nothing fetched, no dialog opened
    page.close()


@pytest.mark.parametrize("width", [1400, 800])
def test_report_fits_the_window(browser: Any, tmp_path: Path, width: int) -> None:
    r = build_report([], [FIXTURES / "repos"], [FIXTURES / "pypi"], False, [])
    page = page_of(browser, render.report_html(r), width)
    assert page.requests == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # wide tables scroll in their own box
    assert page.inner_text("h1") == "Inventory report"
    assert page.locator("span.sev.high").count() >= 5
    assert "do not appear in PyPI's ownership data" in page.inner_text("body")
    assert page.locator("p.note code").first.inner_text() == "ownership"
    shots = os.environ.get("CUSTODY_SCREENSHOTS")
    target = Path(shots) if shots else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"inventory-report-{width}.png"), full_page=True)
    assert (target / f"inventory-report-{width}.png").stat().st_size > 20_000
    page.close()
