"""The frame every console page shares (skip link, header, navigation by what the person's policy allows, the
sign-out form) and the small pieces pages are made of: tables, forms, notices, status badges."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from custody.console.html import Child, Html, document, el, join
from custody.domain.models import Grant
from custody.errors import CustodyError
from custody.usecases.console import Abilities

STATIC = "/ui/static"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    shown: Callable[[Abilities, bool], bool]  # (what the policy allows, whether an inventory report is configured)


# The navigation, in reading order. Each entry shows when the person's policy allows what its page does. Reports that
# come later (the key roster, drills) go after "Audit", each with its own page and its own policy check.
NAV: tuple[NavItem, ...] = (
    NavItem("/ui/requests", "My requests", lambda a, _: a.request),
    NavItem("/ui/queue", "Approvals", lambda a, _: a.approve),
    NavItem("/ui/accounts", "Accounts", lambda a, _: a.codes),
    NavItem("/ui/grants", "All grants", lambda a, _: a.grants),
    NavItem("/ui/reviews", "Emergency reviews", lambda a, _: a.review or a.grants),
    NavItem("/ui/audit", "Audit", lambda a, _: a.audit),
    NavItem("/ui/inventory", "Inventory", lambda a, inventory: a.audit and inventory),
)


@dataclass(frozen=True)
class Frame:
    """What the frame around a page needs: who is signed in (None on the sign-in page), the session's CSRF
    token for the sign-out form, where the page is in the navigation, and a notice or an error to show first."""

    abilities: Abilities | None = None
    csrf: str = ""
    here: str = ""
    notice: str = ""
    error: CustodyError | None = None
    inventory: bool = False


def page(title: str, frame: Frame, *content: Child, head_extra: Child = None) -> Html:
    """A whole page: ``title`` as its heading, ``content`` in ``<main>``."""
    head = el("head", el("meta", charset="utf-8"), head_extra,
              el("meta", name="viewport", content="width=device-width, initial-scale=1"),
              el("meta", name="referrer", content="same-origin"),
              el("title", f"{title} · custody"),
              el("link", rel="icon", href=f"{STATIC}/favicon.svg", type="image/svg+xml"),
              el("link", rel="stylesheet", href=f"{STATIC}/console.css"),
              el("script", src=f"{STATIC}/console.js", defer=True))
    body = el("body",
              el("a", "Skip to the content", href="#main", class_="skip"),
              _header(frame),
              el("main",
                 el("h1", title),
                 notice(frame.notice) if frame.notice else None,
                 error_box(frame.error) if frame.error else None,
                 *content,
                 id="main", tabindex="-1"))
    return document(head, body)


def _header(frame: Frame) -> Html:
    a = frame.abilities
    links = [] if a is None else [
        el("li", el("a", item.label, href=item.path, aria_current="page" if frame.here == item.path else None))
        for item in NAV if item.shown(a, frame.inventory)]
    who = None if a is None else el(
        "form", el("span", "Signed in as ", el("strong", a.who.display_name), class_="who"),
        csrf_field(frame.csrf), el("button", "Sign out", type="submit", class_="link"),
        method="post", action="/ui/sign-out", class_="signout")
    return el("header",
              el("div", el("a", "custody", href="/ui/", class_="brand"), who, class_="bar"),
              el("nav", el("ul", links), aria_label="Main") if links else None)


def notice(text: str) -> Html:
    return el("p", text, class_="notice", role="status")


def error_box(exc: CustodyError) -> Html:
    return el("div", el("p", el("strong", "Refused: "), exc.message),
              el("p", "What to do: ", exc.hint, class_="hint") if exc.hint else None,
              class_="error", role="alert")


def csrf_field(token: str) -> Html:
    return el("input", type="hidden", name="csrf", value=token)


def table(caption: str, head: Sequence[str], rows: Sequence[Sequence[Child]], empty: str) -> Html:
    """A table (on narrow screens each row a card, each cell named by its column), or ``empty`` without rows."""
    if not rows:
        return el("p", empty, class_="empty")
    return el("div", el("table",
                        el("caption", caption),
                        el("thead", el("tr", [el("th", h, scope="col") for h in head])),
                        el("tbody", [el("tr", [el("td", c, data_label=h) for h, c in zip(head, row, strict=True)])
                                     for row in rows])),
              class_="scroll", tabindex="0", role="region", aria_label=caption)


def status_badge(g: Grant) -> Html:
    return join(el("span", g.status.value, class_=f"badge {g.status.value}"),
                el("span", "emergency", class_="badge emergency") if g.emergency else None)


def grant_link(g: Grant) -> Html:
    return el("a", g.id, href=f"/ui/grants/{g.id}", class_="mono")


def field(label: str, control: Html, hint: Child = None, hint_id: str = "") -> Html:
    """A form row: its label (wrapping the control, so it is named for screen readers) and an optional hint."""
    return el("div", el("label", el("span", label, class_="label"), control),
              el("p", hint, class_="field-hint", id=hint_id or None) if hint else None, class_="field")


def button(label: str, name: str = "", value: str = "", kind: str = "primary") -> Html:
    return el("button", label, type="submit", name=name or None, value=value or None, class_=f"btn {kind}")
