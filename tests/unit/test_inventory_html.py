"""The HTML report in a real headless Chromium (Debian's, driven by Playwright; no browser is ever downloaded):
self-contained, names shown as text even when they look like markup, readable at 1400 and 800 pixels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custody.inventory import render
from custody.inventory.reporting import build_report
from tests.browser import chromium, page_of, screenshot

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
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


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
    assert screenshot(page, tmp_path, f"inventory-report-{width}").stat().st_size > 20_000
    page.close()
