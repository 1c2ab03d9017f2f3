"""The console's pages, each a function from what a use case answered to HTML (escaped by construction:
``custody.console.html``). No page holds a token; the one page that holds a recovery code is the reveal's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.console.html import Child, Html, el, join
from custody.console.layout import (
    Frame,
    button,
    csrf_field,
    field,
    grant_link,
    page,
    status_badge,
    table,
)
from custody.console.story import age, shown, story, waiting_for
from custody.domain.models import Grant
from custody.errors import CustodyError
from custody.usecases.console import GrantPage, QueueRow, RequestForm, Revealed
from custody.usecases.signin import Methods


# ---- signing in ------------------------------------------------------------------------------------------------
def sign_in(methods: Methods, csrf: str, error: CustodyError | None = None, notice: str = "",
            username: str = "") -> Html:
    forms: list[Child] = []
    password_methods = [(m, label) for m, label, mount in (("userpass", "Vault username and password",
                                                             methods.userpass),
                                                            ("ldap", "Directory (LDAP) account", methods.ldap))
                        if mount]
    if methods.oidc:
        forms.append(el("form", csrf_field(csrf), el("h2", "Single sign-on"),
                        el("p", "Sign in with your organisation's identity provider, through Vault."),
                        button("Sign in with single sign-on"), method="post", action="/ui/sign-in/oidc",
                        class_="card"))
    if password_methods:
        choice = (el("input", type="hidden", name="method", value=password_methods[0][0])
                  if len(password_methods) == 1 else
                  field("Sign in with", el("select", [el("option", label, value=m) for m, label in password_methods],
                                           name="method")))
        forms.append(el("form", csrf_field(csrf), el("h2", password_methods[0][1] if len(password_methods) == 1
                                                     else "Username and password"),
                        choice,
                        field("Username", el("input", name="username", value=username, required=True,
                                             autocomplete="username", autocapitalize="none", spellcheck="false")),
                        field("Password", el("input", name="password", type="password", required=True,
                                             autocomplete="current-password")),
                        button("Sign in"), method="post", action="/ui/sign-in", class_="card"))
    if methods.token:
        forms.append(el("form", csrf_field(csrf), el("h2", "Vault token"),
                        field("Token", el("input", name="token", type="password", required=True, autocomplete="off",
                                          spellcheck="false", aria_describedby="token-hint"),
                              hint=join("The output of ", el("code", "bao print token"),
                                        ". It is kept sealed in this browser's session cookie, never shown again."),
                              hint_id="token-hint"),
                        el("input", type="hidden", name="method", value="token"),
                        button("Sign in with the token", kind="secondary"), method="post", action="/ui/sign-in",
                        class_="card"))
    intro = el("p", "custody signs you in through Vault: what you may do here is what your Vault policy allows.")
    return page("Sign in", Frame(notice=notice, error=error), intro, el("div", forms, class_="cards"))


def signed_in(target: str) -> Html:
    """The page the OIDC provider's redirect lands on: it moves on to the console by itself (a same-site
    navigation, which carries the new Strict session cookie), or with a click."""
    refresh = el("meta", http_equiv="refresh", content=f"0;url={target}")
    return page("Signed in", Frame(), el("p", el("a", "Continue to the console", href=target)), head_extra=refresh)


def to_provider(url: str) -> Html:
    """On to the identity provider: a page, not a redirect, because the sign-in form's ``form-action 'self'``
    forbids a form's answer to redirect to another origin."""
    refresh = el("meta", http_equiv="refresh", content=f"0;url={url}")
    return page("Signing in", Frame(), el("p", el("a", "Continue to your identity provider", href=url)),
                head_extra=refresh)


# ---- requests ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestRules:
    """What a reason, ticket and TTL must be (the deployment's settings), to say so on the form."""

    reason_min: int
    ticket_pattern: str | None
    ttl_default: str
    ttl_max: str


def requests(frame: Frame, form: RequestForm | None, mine: Sequence[Grant], rules: RequestRules, now: datetime,
             values: dict[str, str] | None = None, form_error: CustodyError | None = None) -> Html:
    rows: list[list[Child]] = [[grant_link(g), g.account, status_badge(g), el("span", g.reason, class_="reason"),
                                g.ticket or "-", shown(g.created_at), shown(g.expires_at)] for g in mine]
    listing = table("Your requests, newest first", ["Grant", "Account", "Status", "Reason", "Ticket", "Requested",
                                                    "Expires"], rows, "You have not requested access yet.")
    return page("My requests", frame,
                _request_form(frame.csrf, form, rules, values or {}, form_error) if form is not None else None,
                el("h2", "Your requests"), listing)


def _request_form(csrf: str, form: RequestForm, rules: RequestRules, values: dict[str, str],
                  error: CustodyError | None) -> Html:
    if not form.accounts:
        return el("p", "No account is registered yet, or your policy lets you see none.", class_="empty")
    chosen = values.get("account", "")
    options = [el("option", f"{a.id} ({a.tier.value}, {a.approvals_required} approval"
                            f"{'s' if a.approvals_required != 1 else ''})", value=a.id, selected=a.id == chosen)
               for a in form.accounts]
    reason_hint = (f"Say what happened and why you need the code, in at least {rules.reason_min} characters. "
                   "Approvers and auditors read it.")
    ticket_hint = (f"Required; it must match {rules.ticket_pattern}." if rules.ticket_pattern
                   else "Optional: the incident or ticket this is for.")
    emergency = None
    if form.emergency:
        where = ("every account listed" if len(form.emergency) == len(form.accounts) else
                 ", ".join(sorted(form.emergency)) if len(form.emergency) <= 3 else
                 f"{len(form.emergency)} of the {len(form.accounts)} accounts listed")
        emergency = el("div", el("label", el("input", type="checkbox", name="emergency", value="yes",
                                             checked=values.get("emergency") == "yes",
                                             aria_describedby="emergency-hint"),
                                 el("span", "Emergency: skip the approvals", class_="label")),
                       el("p", f"An approver reviews it afterwards. Your policy allows it on {where}.",
                          class_="field-hint", id="emergency-hint"), class_="field check")
    return el("form", el("h2", "Request access"),
              el("div", el("p", el("strong", "Not requested: "), error.message),
                 el("p", "What to do: ", error.hint, class_="hint") if error.hint else None,
                 class_="error", role="alert", id="request-error") if error else None,
              csrf_field(csrf),
              field("Account", el("select", options, name="account", required=True)),
              field("Reason", el("textarea", values.get("reason", ""), name="reason", required=True, rows="3",
                                 minlength=str(rules.reason_min), maxlength="2000", data_min=str(rules.reason_min),
                                 aria_describedby="reason-hint reason-count"),
                    hint=join(reason_hint, " ", el("span", "", id="reason-count", aria_live="polite",
                                                   class_="count")),
                    hint_id="reason-hint"),
              field("Ticket", el("input", name="ticket", value=values.get("ticket", ""), maxlength="64",
                                 aria_describedby="ticket-hint", required=bool(rules.ticket_pattern)),
                    hint=ticket_hint, hint_id="ticket-hint"),
              field("Valid for", el("input", name="ttl", value=values.get("ttl", ""), placeholder=rules.ttl_default,
                                    maxlength="12", aria_describedby="ttl-hint"),
                    hint=f"How long the grant stays usable, e.g. 1h or 90m (default {rules.ttl_default}, "
                         f"at most {rules.ttl_max}).", hint_id="ttl-hint"),
              emergency, button("Request access"),
              method="post", action="/ui/requests", class_="card form")


# ---- approvals -------------------------------------------------------------------------------------------------
def decision_form(csrf: str, g: Grant, back: str, approve: bool, deny: bool) -> Html:
    """Approve or deny ``g`` with a comment; ``back`` is the page to return to."""
    return el("form", csrf_field(csrf), el("input", type="hidden", name="next", value=back),
              field("Comment", el("input", name="comment", maxlength="1000", autocomplete="off",
                                  aria_label=f"Comment on grant {g.id}")),
              el("div", button("Approve", kind="primary") if approve else None,
                 el("button", "Deny", type="submit", formaction=f"/ui/grants/{g.id}/deny", class_="btn danger")
                 if deny else None, class_="actions"),
              method="post", action=f"/ui/grants/{g.id}/approve" if approve else f"/ui/grants/{g.id}/deny",
              class_="decision")


def queue(frame: Frame, rows: Sequence[QueueRow], now: datetime) -> Html:
    body = [[grant_link(r.grant), r.grant.account, r.account.tier.value if r.account else "-", r.grant.requester,
             el("span", r.grant.reason, class_="reason"), r.grant.ticket or "-", age(r.grant.created_at, now),
             f"{len(r.grant.approvals)} of {r.grant.approvals_required}",
             decision_form(frame.csrf, r.grant, "queue", approve=True, deny=True)] for r in rows]
    return page("Approvals", frame,
                el("p", "Requests waiting for your approval. Your own requests, and those you already approved, are "
                        "not listed."),
                table("Grants you may approve, oldest first",
                      ["Grant", "Account", "Tier", "Requester", "Reason", "Ticket", "Age", "Approvals", "Decision"],
                      body, "Nothing is waiting for your approval."))


def reviews(frame: Frame, rows: Sequence[tuple[Grant, bool]], now: datetime, may_review: bool) -> Html:
    body = [[grant_link(g), g.account, g.requester, el("span", g.reason, class_="reason"), g.ticket or "-",
             age(g.created_at, now), el("strong", "overdue", class_="badge denied") if overdue else "due",
             _review_form(frame.csrf, g) if may_review else "-"] for g, overdue in rows]
    return page("Emergency reviews", frame,
                el("p", "Emergency grants skip approvals; each must be reviewed afterwards by someone other than "
                        "its requester."),
                table("Emergency grants awaiting review, oldest first",
                      ["Grant", "Account", "Requester", "Reason", "Ticket", "Age", "Review", "Record the review"],
                      body, "No emergency grant is waiting for a review."))


def _review_form(csrf: str, g: Grant, back: str = "reviews") -> Html:
    return el("form", csrf_field(csrf), el("input", type="hidden", name="next", value=back),
              field("What the review found", el("input", name="comment", maxlength="1000", required=True,
                                                aria_label=f"Review of grant {g.id}")),
              button("Record the review"), method="post", action=f"/ui/grants/{g.id}/review", class_="decision")


GRANTS_SHOWN = 200  # a page a browser draws at once; the rest are counted, and the CLI lists them all


def all_grants(frame: Frame, grants: Sequence[Grant], status: str) -> Html:
    statuses = ["", "pending", "approved", "denied", "revealed", "expired", "revoked"]
    picker = el("form", field("Status", el("select", [el("option", s or "any", value=s, selected=s == status)
                                                      for s in statuses], name="status")),
                button("Show", kind="secondary"), method="get", action="/ui/grants", class_="inline")
    newest = list(reversed(grants))[:GRANTS_SHOWN]
    rows: list[list[Child]] = [[grant_link(g), g.account, status_badge(g), g.requester,
                                el("span", g.reason, class_="reason"),
             g.ticket or "-", f"{len(g.approvals)} of {g.approvals_required}", shown(g.created_at)]
            for g in newest]
    more = len(grants) - len(newest)
    left_out = el("p", f"The newest {len(newest)} of {len(grants)} grants are shown; {more} older ones are not. "
                  "Pick a status to narrow the list, or list them all with ",
                  el("code", "custody access list --format json"), ".", class_="hint") if more > 0 else None
    return page("All grants", frame, picker, left_out,
                table("Grants, newest first", ["Grant", "Account", "Status", "Requester", "Reason", "Ticket",
                                               "Approvals", "Requested"], rows, "No grant matches."))


# ---- one grant -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RevealHelp:
    """How a reveal is taken: in the browser, or (reveals in the browser turned off) with a command."""

    in_browser: bool
    custody_addr: str
    vault_addr: str


def grant(frame: Frame, gp: GrantPage, reveal: RevealHelp) -> Html:
    g = gp.grant
    facts = el("dl", [join(el("dt", k), el("dd", v)) for k, v in (
        ("Account", g.account), ("Status", status_badge(g)), ("Requester", g.requester),
        ("Reason", el("span", g.reason, class_="reason")), ("Ticket", g.ticket or "-"),
        ("Approvals", f"{len(g.approvals)} of {g.approvals_required}"), ("Expires", shown(g.expires_at)),
        ("Code handed out (fingerprint)", g.code_fp or "-"))], class_="facts")
    steps = el("ol", [el("li", el("span", shown(s.at) if s.at else "", class_="when"), " ",
                         el("strong", s.what), f" by {s.who}" if s.who else "",
                         el("blockquote", s.comment) if s.comment else None) for s in story(g)], class_="story")
    next_steps = waiting_for(g, gp.review_overdue)
    actions: list[Child] = []
    if gp.approve or gp.deny:
        actions.append(join(el("h2", "Your decision"), decision_form(frame.csrf, g, "grant", gp.approve, gp.deny)))
    if gp.review:
        actions.append(join(el("h2", "Review this emergency access"), _review_form(frame.csrf, g, back="grant")))
    if gp.reveal:
        actions.append(_reveal_section(frame.csrf, g, reveal))
    return page(f"Grant {g.id}", frame, facts,
                el("h2", "What happened"), steps,
                join(el("h2", "What comes next"), el("ul", [el("li", n) for n in next_steps])) if next_steps else None,
                actions)


def _reveal_section(csrf: str, g: Grant, reveal: RevealHelp) -> Html:
    if reveal.in_browser:
        return el("section", el("h2", "Your code"),
                  el("p", "The code is shown once, on the next page, and hidden again after a short while. It is "
                          "burned once you use it: have the sign-in page of the account open."),
                  el("form", csrf_field(csrf), button("Reveal the code"), method="post",
                     action=f"/ui/grants/{g.id}/reveal"), class_="reveal")
    command = (f"export CUSTODY_ADDR={reveal.custody_addr} VAULT_ADDR={reveal.vault_addr}\n"
               f"custody access reveal {g.id}")
    return el("section", el("h2", "Your code"),
              el("p", "This server does not show codes in the browser. Take it in a terminal, signed in to Vault "
                      "(", el("code", "bao login"), "):"),
              el("pre", el("code", command), tabindex="0"),
              el("p", "Or have a single-use wrapping token handed to you here, to unwrap with ", el("code", "bao"),
                 " yourself:"),
              el("form", csrf_field(csrf), button("Hand me a wrapping token", kind="secondary"), method="post",
                 action=f"/ui/grants/{g.id}/reveal"), class_="reveal")


def revealed(frame: Frame, r: Revealed, seconds: int) -> Html:
    """The one page that holds a recovery code: sent with ``Cache-Control: no-store`` (as every answer), after a
    POST (never in a URL), hidden by ``console.js`` after ``seconds``."""
    return page("Your recovery code", frame,
                el("div", el("p", f"One-time recovery code for {r.grant.account}:"),
                   el("output", r.code, class_="code", id="code", data_hide_after=str(seconds)),
                   el("p", f"It disappears from this page in {seconds} seconds; it is not shown again. "
                           f"{r.remaining} code{'s' if r.remaining != 1 else ''} left for this account.",
                      class_="field-hint", id="code-note"),
                   el("div", el("button", "Copy", type="button", class_="btn secondary", data_copy="code"),
                      el("button", "Hide now", type="button", class_="btn secondary", data_hide="code"),
                      class_="actions js-only"),
                   class_="card revealed"),
                el("p", el("a", "Back to the grant", href=f"/ui/grants/{r.grant.id}")))


def wrapped(frame: Frame, g: Grant, wrapping_token: str, vault_addr: str, ttl: int) -> Html:
    """Reveals in the browser turned off: the wrapping token, once, with the command that unwraps it."""
    command = f"VAULT_ADDR={vault_addr} bao unwrap -field=code {wrapping_token}"
    return page("Your wrapping token", frame,
                el("div", el("p", f"A single-use wrapping token holding one recovery code for {g.account}. "
                                  f"Unwrap it within {ttl} seconds, signed in to Vault as yourself:"),
                   el("pre", el("code", command, id="code", data_hide_after=str(ttl)), tabindex="0"),
                   el("p", "It is not shown again. If the unwrap fails, someone else may have unwrapped it: tell "
                           "the security team at once.", class_="field-hint"),
                   class_="card revealed"),
                el("p", el("a", "Back to the grant", href=f"/ui/grants/{g.id}")))


# ---- the security team, auditors -----------------------------------------------------------------------------
def accounts(frame: Frame, rows: Sequence[dict[str, Any]]) -> Html:
    def due(row: dict[str, Any]) -> Child:
        if row.get("overdue"):
            return el("strong", "overdue", class_="badge denied")
        return el("span", "due", class_="badge pending") if row.get("rotation_due") else "no"

    body = [[el("span", r["account"], class_="mono"), f"{r['remaining']} of {r['total']}",
             _when(r.get("deposited_at")), r.get("deposited_by") or "-", due(r),
             "; ".join(r.get("due_reasons") or []) or "-", _when(r.get("next_due_at"))[:10]]
            for r in sorted(rows, key=lambda r: str(r["account"]))]
    return page("Accounts", frame,
                table("Accounts and their recovery codes", ["Account", "Codes left", "Deposited", "By",
                                                             "Rotation due", "Why", "Next due"],
                      body, "No account is registered yet."))


def _when(text: object) -> str:
    """An ISO time from an answer, as pages show times."""
    try:
        return shown(datetime.fromisoformat(str(text))) if text else "-"
    except ValueError:
        return str(text)


def audit(frame: Frame, since: str, until: str, report_url: str) -> Html:
    window = el("form", field("Since", el("input", name="since", value=since, placeholder="e.g. 2024-05-01 or 7d",
                                          maxlength="40")),
                field("Until", el("input", name="until", value=until, placeholder="now", maxlength="40")),
                button("Summarise", kind="secondary"), method="get", action="/ui/audit", class_="inline")
    return page("Audit summary", frame,
                el("p", "The summary of the audit logs this server reads, from Vault's own audit device: the same "
                        "report as ", el("code", "custody audit summary --format html"), "."),
                window, el("p", el("a", "Open the report on its own page", href=report_url)),
                el("iframe", title="Audit summary", src=report_url, sandbox="", class_="report"))


def inventory(frame: Frame) -> Html:
    return page("Inventory", frame,
                el("p", "The saved inventory report this server shows: PyPI projects, their publish steps and "
                        "owners, and what needs a look."),
                el("p", el("a", "Open the report on its own page", href="/ui/inventory/report")),
                el("iframe", title="Inventory report", src="/ui/inventory/report", sandbox="", class_="report"))


def message(title: str, frame: Frame, *text: Child) -> Html:
    return page(title, frame, *[el("p", t) for t in text])
