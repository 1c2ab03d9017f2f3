"""An evidence pack for people: controls first, then the raw sections; in HTML every text escaped, nothing
loaded from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from custody.evidence.controls import evaluate
from custody.evidence.dsse import Envelope
from custody.evidence.render import html, markdown
from custody.evidence.statement import payload_bytes, statement
from tests.browser import WIDTHS, broken_identifiers, chromium, page_of, screenshot
from tests.evidencekit import predicate, reveal

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> | "quoted" & done'


def _stmt() -> dict[str, object]:
    p = predicate(access={"reveals": [reveal(reason=HOSTILE, ticket="<b>T-1</b>")], "anomalies": [],
                          "principals": []})
    p["controls"] = evaluate(p)
    return statement([], p)


def _sparse() -> dict[str, object]:
    """A pack where every optional field is absent (None or missing), as an older server or a short period leaves
    it, and a long account name in a narrow table."""
    p = predicate(access={"reveals": [reveal(account="pypi/acme-release-tools", ticket=None, emergency=True,
                                             approvers=[{"approver": None, "comment": None}],
                                             review={"by": None, "comment": None}),
                                      reveal(account=None, grant_id=None, requester=None, reason=None, time=None,
                                             approvers=None)],
                          "anomalies": [{"time": None, "kind": "direct_access", "severity": None, "principal": None,
                                         "path": None, "why": None}],
                          "principals": []},
                  custody=[{"account": "pypi/acme", "status": {"total": None},
                            "rotations": [{"number": 1, "status": "completed", "started_at": None, "actor": None,
                                           "reason": None}]}],
                  offboardings=[{"email": "leaver@example.com", "offboarded_at": None, "offboarded_by": None,
                                 "reason": None, "now": {"revoke_grants": [], "owned": [],
                                                          "keys": [{"account": None, "label": None}]}}],
                  inputs={"audit_logs": [{"name": "audit.log", "sha256": None, "size": None}], "inventory": None})
    p["controls"] = evaluate(p)
    return statement([], p)


def test_an_absent_field_reads_as_a_dash_never_as_none() -> None:
    stmt = _sparse()
    env = Envelope(payload_bytes(stmt))
    for text in (markdown(stmt, env), html(stmt, env)):
        assert re.findall(r".{0,40}\bNone\b.{0,40}", text) == []
    text = markdown(stmt, env)
    assert "- **custody version**: -" in text and "#1 completed" in text and "key - -" in text


def test_html_escapes_every_text_and_loads_nothing() -> None:
    stmt = _stmt()
    page = html(stmt, Envelope(payload_bytes(stmt)))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;T-1&lt;/b&gt;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "default-src 'none'" in page


def test_controls_come_first_then_the_raw_sections() -> None:
    stmt = _stmt()
    text = markdown(stmt, Envelope(payload_bytes(stmt)))
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    assert heads[0] == "Controls" and heads.index("Reveals (from the audit logs)") > heads.index("Accounts")
    assert "| SOC 2 | CC6.1: " in text
    # a pipe in someone's text cannot break the table
    assert "\\| \"quoted\"" in text
    page = html(stmt, Envelope(payload_bytes(stmt)))
    assert page.index('id="controls"') < page.index('id="accounts"') < page.index('id="reveals"')
    assert "not by this page" in page  # rendering never claims the signatures were checked


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_in_a_browser_runs_nothing_fetches_nothing_and_fits(tmp_path: Path, width: int) -> None:
    stmt = _stmt()
    with chromium() as browser:
        page = page_of(browser, html(stmt, Envelope(payload_bytes(stmt))), width)
        assert page.evaluate("document.querySelectorAll('script, img, b').length") == 0
        body = page.inner_text("body")
        assert "<script>alert(1)</script>" in body and "<b>T-1</b>" in body  # shown as text
        assert page.requests == []  # nothing fetched, no dialog opened
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.inner_text("h2 >> nth=0") == "Controls"
        assert screenshot(page, tmp_path, f"evidence-pack-{width}").stat().st_size > 20_000
        page.close()


IDENTIFIERS = ["time", "account", "grant", "requester", "ticket", "drill", "email", "file", "sha256", "kind",
               "severity", "who", "path", "framework", "status"]


@pytest.mark.parametrize("width", WIDTHS)
def test_identifiers_never_break_inside_a_word(tmp_path: Path, width: int) -> None:
    stmt = _sparse()
    long = reveal(account="pypi/acme-release-tools", reason="a" * 30 + " " + HOSTILE * 3,
                  approvers=[{"approver": "userpass-carol-the-approver", "comment": "ok " * 30}])
    stmt["predicate"]["access"]["reveals"].append(long)
    with chromium() as browser:
        page = page_of(browser, html(stmt, Envelope(payload_bytes(stmt))), width)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert broken_identifiers(page, IDENTIFIERS) == []
        screenshot(page, tmp_path, f"evidence-pack-sparse-{width}")
        page.close()
