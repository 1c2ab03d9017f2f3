"""The HTML report in a real headless Chromium (Debian's, driven by Playwright: ``tests/browser.py``): it renders,
the timeline is drawn, the console stays clean, the page fits the window and names stay whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from custody.auditlog import render, summarize
from tests.browser import WIDTHS, broken_identifiers, chromium, page_of, screenshot

SCENARIO = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "scenario.log"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    s = summarize([SCENARIO], late_after=timedelta(seconds=2), workers=1)
    out.write_text(render(s, "html"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_renders_with_timeline_and_no_console_errors(page: Path, browser: Any) -> None:
    shown = page_of(browser, page.read_text(encoding="utf-8"), 1280)
    assert shown.inner_text("h1") == "Custody access summary"
    assert shown.locator("svg#timeline circle.reveal").count() == 8  # one dot per reveal, drawn as SVG circles
    assert "unwrap_wrong_principal" in shown.inner_text("body")
    assert shown.console == []  # no message, no uncaught error, no blocked fetch
    shown.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_fits_the_window_and_keeps_names_whole(
    page: Path, browser: Any, tmp_path: Path, width: int
) -> None:
    """Driven by Playwright at 1400 and 800 px: nothing fetched, no sideways scroll of the page, every reveal on
    the timeline, and no account, grant, ticket or path split inside a name."""
    shown = page_of(browser, page.read_text(encoding="utf-8"), width)
    assert shown.requests == []  # nothing fetched, no dialog opened
    assert shown.evaluate("document.documentElement.scrollWidth") <= width
    assert shown.locator("circle.reveal").count() == 8
    # (an entity id is a UUID, which may break after a dash)
    assert broken_identifiers(shown, ["time", "account", "grant", "ticket", "unwrap", "path", "kind",
                                      "severity"]) == []
    shot = screenshot(shown, tmp_path, f"audit-summary-{width}").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(shot) > 20_000  # a blank page is a few kB; tables and the chart make it far larger
    shown.close()
