"""The web console in a real browser (Debian's Chromium, driven by Playwright) against the session's real custody
server and OpenBao: an engineer signs in and requests, two approvers sign in and approve with comments, the
requester reveals the code once, a second reveal is refused, an auditor opens the audit report.

Every page is photographed at 1400 and 800 px wide, into ``$CUSTODY_SCREENSHOTS`` (else the test's temporary
directory), to be looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, WIDTHS, screens
from tests.helpers import DEPOSITED, REASON, Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (Debian's chromium package) to drive", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return screens(tmp_path)


class Watch:
    """What a page did that it must not: run a dialog (an injected script), break its CSP."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.csp: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)


def open_as(browser: Browser, stack: Stack, who: str, watch: Watch) -> Page:
    page = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}).new_page()
    watch.attach(page)
    page.goto(f"{stack.custody_addr}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    page.get_by_label("Username").fill(who)
    page.get_by_label("Password").fill(stack.state["passwords"][who])
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".who")).to_contain_text(f"userpass-{who}")
    return page


def shoot(page: Page, shots: Path, name: str, stack: Stack | None = None) -> None:
    """Photograph ``page`` at each width; with ``stack``, check first that no page holds anyone's token."""
    if stack is not None:
        html = page.content()
        assert not [who for who, token in stack.state["tokens"].items() if token in html], name
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_request_two_approvals_one_reveal_and_the_audit_report(browser: Browser, stack: Stack,
                                                                critical_account: str, shots: Path) -> None:
    watch = Watch()
    signin = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    signin.goto(f"{stack.custody_addr}/ui/sign-in")
    shoot(signin, shots, "01-sign-in", stack)

    # The engineer signs in and asks for a code, with a reason that holds markup.
    engineer = open_as(browser, stack, "engineer", watch)
    expect(engineer).to_have_url(re.compile(r"/ui/requests$"))
    assert engineer.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
    engineer.get_by_label("Account").select_option(critical_account)
    engineer.get_by_label("Reason").fill(f"{REASON} <script>alert('xss')</script>")
    expect(engineer.locator("#reason-count")).to_contain_text("characters")
    engineer.get_by_label("Ticket").fill("SEC-1042")
    engineer.get_by_label("Valid for").fill("2h")
    shoot(engineer, shots, "02-request-form", stack)
    with engineer.expect_navigation():
        engineer.get_by_role("button", name="Request access").click()
    expect(engineer.locator(".notice")).to_contain_text("Your request is recorded")
    grant_id = engineer.url.split("/ui/grants/")[1].split("?")[0]
    expect(engineer.locator("dl.facts")).to_contain_text("<script>alert('xss')</script>")  # shown as text
    shoot(engineer, shots, "03-grant-pending", stack)

    # Two approvers approve it, each with a comment: from the queue, and from the grant's page.
    approver = open_as(browser, stack, "approver", watch)
    expect(approver).to_have_url(re.compile(r"/ui/queue$"))
    row = approver.locator("tr", has=approver.locator(f"a:text-is('{grant_id}')"))
    expect(row).to_contain_text("0 of 2")
    expect(row).to_contain_text("critical")
    shoot(approver, shots, "04-approval-queue", stack)
    row.get_by_label(f"Comment on grant {grant_id}").fill("confirmed on a call <b>bold</b>")
    with approver.expect_navigation():
        row.get_by_role("button", name="Approve").click()
    expect(approver.locator(".notice")).to_have_text("Approved.")

    approver2 = open_as(browser, stack, "approver2", watch)
    approver2.goto(f"{stack.custody_addr}/ui/grants/{grant_id}")
    expect(approver2.locator("ol.story")).to_contain_text("confirmed on a call <b>bold</b>")
    shoot(approver2, shots, "05-grant-to-approve", stack)
    approver2.get_by_label(f"Comment on grant {grant_id}").fill("ok, second approval")
    with approver2.expect_navigation():
        approver2.get_by_role("button", name="Approve").click()
    expect(approver2.locator("dl.facts")).to_contain_text("approved")

    # The requester reveals the code once; a second reveal (from a page opened before) is refused.
    engineer.goto(f"{stack.custody_addr}/ui/grants/{grant_id}")
    stale = engineer.context.new_page()
    stale.goto(f"{stack.custody_addr}/ui/grants/{grant_id}")
    shoot(engineer, shots, "06-grant-approved", stack)
    engineer.clock.install()
    with engineer.expect_navigation() as nav:
        engineer.get_by_role("button", name="Reveal the code").click()
    answer = nav.value
    assert answer is not None and answer.headers["cache-control"] == "no-store"
    assert grant_id in engineer.url and "reveal" in engineer.url  # the POST's address: the code is in no URL
    code = engineer.locator("#code").inner_text().strip()
    assert code in DEPOSITED
    shoot(engineer, shots, "07-code-revealed", stack)
    engineer.clock.fast_forward("01:05")
    expect(engineer.locator("#code")).to_have_text("(hidden)")
    assert code not in engineer.content()
    with stale.expect_navigation():
        stale.get_by_role("button", name="Reveal the code").click()
    expect(stale.locator(".error")).to_contain_text("already revealed")
    shoot(stale, shots, "08-second-reveal-refused", stack)
    engineer.goto(f"{stack.custody_addr}/ui/grants/{grant_id}")
    expect(engineer.locator("ol.story")).to_contain_text("revealed: one code handed out")
    assert code not in engineer.content()
    shoot(engineer, shots, "09-grant-story", stack)

    # The auditor opens the audit report (the CLI's renderer, framed under its own CSP).
    auditor = open_as(browser, stack, "auditor", watch)
    auditor.get_by_role("link", name="Audit").click()
    report = auditor.frame_locator("iframe.report")
    expect(report.locator("h1")).to_have_text("Custody access summary", timeout=30_000)
    expect(report.locator("body")).to_contain_text(grant_id)
    shoot(auditor, shots, "10-audit-summary", stack)
    auditor.get_by_role("link", name="All grants").click()
    shoot(auditor, shots, "11-all-grants", stack)

    assert watch.dialogs == [], watch.dialogs
    assert watch.csp == [], watch.csp


def test_the_other_pages_and_the_keyboard(browser: Browser, stack: Stack, account: str, critical_account: str,
                                          shots: Path) -> None:
    watch = Watch()
    security = open_as(browser, stack, "security", watch)
    expect(security).to_have_url(re.compile(r"/ui/accounts$"))  # the security team's first page
    expect(security.locator("table")).to_contain_text(account)
    shoot(security, shots, "12-accounts", stack)

    # An emergency request by the on-call engineer lands on the review list, where an approver reviews it.
    engineer = open_as(browser, stack, "engineer", watch)
    engineer.get_by_label("Account").select_option(critical_account)
    engineer.get_by_label("Reason").fill(REASON)
    engineer.get_by_label("Emergency: skip the approvals").check()
    with engineer.expect_navigation():
        engineer.get_by_role("button", name="Request access").click()
    grant_id = engineer.url.split("/ui/grants/")[1].split("?")[0]
    expect(engineer.locator("dl.facts")).to_contain_text("emergency")
    approver = open_as(browser, stack, "approver", watch)
    approver.get_by_role("link", name="Emergency reviews").click()
    row = approver.locator("tr", has=approver.locator(f"a:text-is('{grant_id}')"))
    shoot(approver, shots, "13-reviews", stack)
    row.get_by_label(f"Review of grant {grant_id}").fill("paged the on-call lead: it was real")
    with approver.expect_navigation():
        row.get_by_role("button", name="Record the review").click()
    expect(approver.locator(".notice")).to_have_text("Your review is recorded.")
    expect(approver.locator("tr", has=approver.locator(f"a:text-is('{grant_id}')"))).to_have_count(0)

    # Keyboard: the first Tab reaches the skip link, which takes focus to the page's content.
    engineer.goto(f"{stack.custody_addr}/ui/requests")
    engineer.keyboard.press("Tab")
    assert engineer.evaluate("document.activeElement.textContent") == "Skip to the content"
    shoot(engineer, shots, "14-skip-link-focused", stack)
    engineer.keyboard.press("Enter")
    assert engineer.evaluate("document.activeElement.id") == "main"
    engineer.keyboard.press("Tab")
    focused = engineer.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # focus is visible
    assert watch.dialogs == [] and watch.csp == []
