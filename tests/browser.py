"""What the browser tests share: Debian's Chromium (``/usr/bin/chromium``), driven by Playwright, never a
downloaded browser; a page of given HTML that records what it tries to fetch; screenshots kept where
``$CUSTODY_SCREENSHOTS`` says (else the test's temporary directory), to be looked at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = (1400, 800)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium; the test is skipped, saying why, where Debian's package is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser checks skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def page_of(browser: Any, html: str, width: int) -> Any:
    """``html`` in a new page ``width`` pixels wide; ``page.requests`` lists every URL it asked for (and
    ``"dialog"`` for every dialog it opened), so a test can say a report fetches nothing and runs nothing."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (requests.append("dialog"), d.dismiss()))
    page.set_content(html, wait_until="load")
    page.requests = requests
    return page


def screens(tmp_path: Path) -> Path:
    """Where screenshots go: ``$CUSTODY_SCREENSHOTS``, else a folder of the test's own."""
    target = Path(os.environ.get("CUSTODY_SCREENSHOTS") or tmp_path / "screens")
    target.mkdir(parents=True, exist_ok=True)
    return target


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot of ``page`` as ``name``.png; its path."""
    path = screens(tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
