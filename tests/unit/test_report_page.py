"""The page shell the four standalone reports share (custody/reports/page.py): one head with a policy that lets
nothing load or run, one stylesheet, one escaping."""

from __future__ import annotations

import html as stdlib_html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custody.reports import page
from tests.browser import chromium

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _audit() -> str:
    from custody.auditlog import render, summarize

    return render(summarize([FIXTURES / "audit" / "scenario.log"], workers=1), "html")


def _inventory() -> str:
    from custody.inventory.render import report_html
    from custody.inventory.reporting import build_report

    inv = FIXTURES / "inventory"
    return report_html(build_report([], [inv / "repos"], [inv / "pypi"], False, []))


def _drills() -> str:
    from custody.domain import drills
    from custody.reports.drills import html_page

    return html_page(drills.report([], ["pypi/acme"], datetime(2026, 5, 4, tzinfo=UTC), timedelta(minutes=15)))


def _evidence() -> str:
    from custody.evidence.dsse import Envelope
    from custody.evidence.render import html
    from custody.evidence.statement import payload_bytes, statement
    from tests.evidencekit import predicate

    stmt = statement([], predicate(controls=[]))
    return html(stmt, Envelope(payload_bytes(stmt)))


REPORTS: dict[str, Callable[[], str]] = {"audit": _audit, "inventory": _inventory, "drills": _drills,
                                         "evidence": _evidence}


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_is_built_on_the_shell(name: str) -> None:
    doc = REPORTS[name]()
    assert doc.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert f'<meta http-equiv="Content-Security-Policy" content="{page.CSP}">' in doc
    assert doc.count("<style>") == 1 and page.CSS in doc
    assert "<script" not in doc and " style=" not in doc  # the console's report policy need allow no attribute


def test_escaping_is_what_the_standard_library_gives() -> None:
    hostile = "<img src=x onerror='alert(1)'> & \"quoted\""
    assert page.esc(hostile) == stdlib_html.escape(hostile, quote=True)
    assert page.esc(None) == "" and page.esc(3) == "3"
    assert page.slashed("pypi/<b>") == '<span class="seg">pypi</span>/<wbr><span class="seg">&lt;b&gt;</span>'
    assert page.table(("a",), [], empty="Nothing.") == '<p class="meta">Nothing.</p>'


def test_the_policy_stops_what_markup_would_fetch() -> None:
    """Markup that slipped past escaping still loads nothing: the browser refuses each fetch for the head's policy
    (and without the policy it tries them, so the check can fail)."""
    fetching = ('<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="http://127.0.0.1:9/a.css">'
                '<iframe src="http://127.0.0.1:9/"></iframe>')

    def refusals(browser: Any, doc: str) -> set[str | None]:
        shown = browser.new_page()
        why: set[str | None] = set()
        shown.on("requestfailed", lambda r: why.add(r.failure))
        shown.set_content(doc, wait_until="load")
        shown.close()
        return why

    with chromium() as browser:
        assert refusals(browser, page.document("t", fetching)) == {"csp"}
        assert "csp" not in refusals(browser, f"<!DOCTYPE html><html><body>{fetching}</body></html>")
