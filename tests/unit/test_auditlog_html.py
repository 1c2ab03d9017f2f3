"""The HTML report in a real headless Chromium: it renders, the timeline is drawn, the console stays clean.

Skipped only when no Chromium is installed locally; CI installs Debian's ``chromium`` package. Set
``CUSTODY_REQUIRE_CHROMIUM=1`` to turn the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from custody.auditlog import render, summarize
from tests.browser import WIDTHS, broken_identifiers, chromium, page_of, screenshot

SCENARIO = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "scenario.log"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CUSTODY_REQUIRE_CHROMIUM"):
        pytest.fail("no chromium found and CUSTODY_REQUIRE_CHROMIUM is set")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _chromium(page: Path, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            _browser(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    s = summarize([SCENARIO], late_after=timedelta(seconds=2), workers=1)
    out.write_text(render(s, "html"), encoding="utf-8")
    return out


def test_renders_with_timeline_and_no_console_errors(page: Path, tmp_path: Path) -> None:
    result = _chromium(page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<h1>Custody access summary</h1>" in dom
    assert dom.count('class="reveal"') == 8  # one dot per reveal, drawn as SVG circles in the DOM
    assert re.search(r"<svg[^>]*id=\"timeline\"", dom)
    assert "unwrap_wrong_principal" in dom
    # Chromium logs page console messages and uncaught errors as CONSOLE lines on stderr.
    console = [ln for ln in result.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == []


def test_screenshot_is_drawn(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _chromium(page, tmp_path, f"--screenshot={shot}")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a blank page is a few kB; tables and the chart make it far larger


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_fits_the_window_and_keeps_names_whole(page: Path, tmp_path: Path, width: int) -> None:
    """Driven by Playwright at 1400 and 800 px: nothing fetched, no sideways scroll of the page, every reveal on
    the timeline, and no account, grant, ticket or path split inside a name."""
    with chromium() as browser:
        shown = page_of(browser, page.read_text(encoding="utf-8"), width)
        assert shown.requests == []  # nothing fetched, no dialog opened
        assert shown.evaluate("document.documentElement.scrollWidth") <= width
        assert shown.locator("circle.reveal").count() == 8
        # (an entity id is a UUID, which may break after a dash)
        assert broken_identifiers(shown, ["time", "account", "grant", "ticket", "unwrap", "path", "kind",
                                          "severity"]) == []
        assert screenshot(shown, tmp_path, f"audit-summary-{width}").stat().st_size > 20_000
        shown.close()
