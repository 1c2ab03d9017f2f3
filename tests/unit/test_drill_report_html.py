"""The drill report in a real headless Chromium (Debian's, driven by Playwright; no browser is ever downloaded):
self-contained, every value shown as text even when it looks like markup, readable at 1400 and 800 pixels. The
Markdown form escapes table cells."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custody.domain import drills as rules
from custody.domain.drills import Step
from custody.domain.models import Principal
from custody.reports import drills as render
from tests.browser import chromium, page_of, screenshot

T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
EVIL = "<script>document.title='pwned'</script> lost keys | at <img src=x onerror=alert(1)>"
SEC = Principal(id="e1", display_name="userpass-security", entity_id="e1", policies=("custody-security",))
LEAD = Principal(id="e2", display_name="userpass-lead", entity_id="e2",
                 policies=("custody-security", "custody-requester", "custody-approver"))
ENG = Principal(id="e3", display_name="userpass-<b>engineer</b>", entity_id="e3", policies=("custody-requester",))


def a_drill(account: str, minutes: float | None, result: str, who: Principal, scenario: str,
            start: datetime) -> rules.Drill:
    d = rules.start(account, scenario, "auditor@acme.example", SEC, start)
    grant = "gr_" + "b" * 16
    for step, at in ((Step.requested, 1), (Step.approved, 3), (Step.revealed, 5)):
        d = rules.note(d, rules.participant(who if step is not Step.approved else LEAD, step,
                                            start + timedelta(minutes=at), grant))
    return d if minutes is None else rules.finish(d, result, "", SEC, start + timedelta(minutes=minutes))


def report() -> dict[str, Any]:
    drills = [a_drill("pypi/acme-release", 9, "pass", LEAD, "maintainer lost both keys while travelling", T0),
              a_drill("pypi/acme-docs", 31, "pass", ENG, EVIL, T0 + timedelta(days=1)),
              a_drill("pypi/acme-cli", 12, "fail", LEAD, "the approver on call could not be reached in time",
                      T0 + timedelta(days=2)),
              a_drill("pypi/acme-bot", None, "", LEAD, "bot account: recovery codes only, no second key",
                      T0 + timedelta(days=3))]
    accounts = ["pypi/acme-release", "pypi/acme-docs", "pypi/acme-cli", "pypi/acme-bot", "pypi/legacy-uploader"]
    return rules.report(drills, accounts, T0 + timedelta(days=4), timedelta(minutes=15))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_markup_in_scenarios_and_names_shows_as_text(browser: Any) -> None:
    page = page_of(browser, render.html_page(report()), 1400)
    assert page.title() == "custody drill report"
    assert page.evaluate("document.querySelectorAll('script, img, b').length") == 0
    body = page.inner_text("body")
    assert EVIL in body and "userpass-<b>engineer</b>" in body
    assert page.requests == []  # nothing fetched, no dialog opened
    page.close()


@pytest.mark.parametrize("width", [1400, 800])
def test_the_report_fits_the_window_and_says_what_is_flagged(browser: Any, tmp_path: Path, width: int) -> None:
    r = report()
    page = page_of(browser, render.html_page(r), width)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # wide tables scroll in their own box
    assert page.inner_text("h1") == "Recovery drills"
    assert page.inner_text("p.verdict") == "3 drill(s) flagged, 3 account(s) without a passing drill in 365 days"
    flags = page.locator("h2:has-text('Flags') + div tbody tr")
    assert flags.count() == 4  # over the target and an outsider, failed, unfinished: one row per flag
    assert page.locator("span.pill.out").count() == 1 and page.locator("span.pill.fail").count() == 1
    # each participant's name is one pill on one line; their steps wrap beside it as text
    names = page.locator("ul.who span.pill")
    assert names.count() == 9
    assert page.evaluate("[...document.querySelectorAll('ul.who span.pill')].every(p => p.getClientRects().length"
                         " === 1 && p.getBoundingClientRect().height < 24)")
    assert page.locator("ul.who span.pill.out").inner_text() == "userpass-<b>engineer</b>"
    assert screenshot(page, tmp_path, f"drill-report-{width}").stat().st_size > 20_000
    page.close()


def test_markdown_cells_cannot_break_the_table() -> None:
    md = render.markdown(report())
    row = next(line for line in md.splitlines() if "pypi/acme-docs" in line and "lost keys" in line)
    assert "\\|" in row and row.count(" | ") == 7  # the scenario's pipe is escaped: eight cells
    assert md.startswith("# Recovery drills\n") and "**3 drill(s) flagged" in md
