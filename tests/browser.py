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
    ``"dialog"`` for every dialog it opened), so a test can say a report fetches nothing and runs nothing, and
    ``page.console`` every console message and uncaught error (a blocked fetch, a broken script)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (requests.append("dialog"), d.dismiss()))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"error: {e}"))
    page.set_content(html, wait_until="load")
    page.requests = requests
    page.console = console
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


# Every line break inside an identifier cell, as the text before it; one that does not follow a "/" or a space
# splits a name ("pypi/acm" | "e-tools").
_BREAKS = """(columns) => [...document.querySelectorAll('table')].flatMap(table => {
  const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent);
  return [...table.querySelectorAll('tbody tr')].flatMap(tr => [...tr.children].flatMap((td, i) => {
    if (!columns.includes(heads[i])) return [];
    const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT), chars = [];
    while (walk.nextNode()) {
      const node = walk.currentNode;
      for (let k = 0; k < node.length; k++) {
        const range = document.createRange(); range.setStart(node, k); range.setEnd(node, k + 1);
        const rect = range.getClientRects()[0];
        chars.push([node.data[k], rect && rect.width > 0 ? rect.top : null]);
      }
    }
    const text = chars.map(c => c[0]).join(''), found = [];
    let top = null, free = false;  // the line the text is on; whether a break may come here
    chars.forEach(([ch, at], k) => {
      if (at === null || /\\s/.test(ch)) { free = true; return; }
      if (top !== null && at > top + 2 && !free) found.push(heads[i] + ': ' + text.slice(0, k) + ' | ' + text.slice(k));
      top = at; free = ch === '/';
    });
    return found;
  }));
})"""


def broken_identifiers(page: Any, columns: list[str]) -> list[str]:
    """Each line break inside a cell of the named columns that does not follow a "/" or a space, as
    ``column: text before | text after``: a name split where it may not be (``pypi/acm | e-tools``)."""
    found: list[str] = page.evaluate(_BREAKS, columns)
    return found
