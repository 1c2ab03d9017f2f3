"""The console's pages and the actions on them. Each route parses, calls one use case with the signed-in person's
token, and renders; ``Shell.guarded`` and ``Shell.posted`` do the session, the checks and the refusals."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from custody.console import pages
from custody.console.answers import html, redirect, report
from custody.console.html import el, join
from custody.console.layout import NAV
from custody.console.session import Session
from custody.console.shell import BACK, Shell
from custody.domain.ids import GRANT_ID_PATTERN
from custody.errors import AuthError, CustodyError, NotFound
from custody.usecases.audit import AuditFormat

_GRANT = re.compile(GRANT_ID_PATTERN)


def _grant_id(grant_id: str) -> str:
    if _GRANT.fullmatch(grant_id) is None:
        raise NotFound("no such grant", hint="grant ids look like gr_ followed by 16 letters and digits")
    return grant_id


def add(r: APIRouter, shell: Shell) -> None:
    uc = shell.uc
    _requests(r, shell)
    _decisions(r, shell)
    _reports(r, shell)

    @r.get("/ui")
    def bare() -> Response:
        return redirect("/ui/")

    @r.get("/ui/")
    def home(request: Request) -> Response:
        def first(s: Session) -> Response:
            frame = shell.frame(s)
            assert frame.abilities is not None
            for item in NAV:
                if item.shown(frame.abilities, frame.inventory):
                    return redirect(item.path)
            return html(pages.message("Nothing to do here", frame, "Your Vault policy gives you no custody role.",
                                      "Ask the security team for the one you need."))

        return shell.guarded(request, first)

    @r.get("/ui/grants/{grant_id}")
    def grant_page(request: Request, grant_id: str) -> Response:
        def render(s: Session) -> Response:
            gp = uc.console.grant_page(s.token, _grant_id(grant_id))
            return html(pages.grant(shell.frame(s, notice=shell.notice(request)), gp, _reveal_help(shell, request)))

        return shell.guarded(request, render)

    @r.get("/ui/{rest:path}")
    def unknown(request: Request, rest: str) -> Response:
        return shell.guarded(request, lambda s: shell.refused(request, s, NotFound("no such page here")))


def _reveal_help(shell: Shell, request: Request) -> pages.RevealHelp:
    return pages.RevealHelp(in_browser=shell.settings.reveal == "browser", custody_addr=shell.addr(request),
                            vault_addr=shell.settings.vault_addr)


def _requests(r: APIRouter, shell: Shell) -> None:
    uc = shell.uc

    def requests_page(request: Request, s: Session, values: dict[str, str] | None = None,
                      error: CustodyError | None = None) -> Response:
        frame = shell.frame(s, here="/ui/requests", notice=shell.notice(request))
        form = uc.console.request_form(s.token) if frame.abilities and frame.abilities.request else None
        page = pages.requests(frame, form, uc.console.my_requests(s.token), shell.rules, uc.ctx.clock(), values,
                              error)
        return html(page, error.status if error else 200)

    @r.get("/ui/requests")
    def my_requests(request: Request) -> Response:
        return shell.guarded(request, lambda s: requests_page(request, s), "/ui/requests")

    @r.post("/ui/requests")
    async def request_access(request: Request) -> Response:
        def act(s: Session, form: dict[str, str]) -> Response:
            try:
                g = uc.access.request(s.token, form.get("account", ""), form.get("reason", ""),
                                      form.get("ticket") or None, form.get("ttl") or None,
                                      emergency=form.get("emergency") == "yes")
            except AuthError:
                raise  # the session has ended: to the sign-in page
            except CustodyError as exc:
                return requests_page(request, s, form, exc)
            return redirect(f"/ui/grants/{g.id}?done=requested")

        return await shell.posted(request, act, "/ui/requests")


def _decisions(r: APIRouter, shell: Shell) -> None:
    uc = shell.uc
    actions = {"approve": (uc.access.approve, "approved"), "deny": (uc.access.deny, "denied"),
               "review": (uc.access.review, "reviewed")}

    @r.get("/ui/queue")
    def queue(request: Request) -> Response:
        def render(s: Session) -> Response:
            frame = shell.frame(s, here="/ui/queue", notice=shell.notice(request))
            return html(pages.queue(frame, uc.console.queue(s.token), uc.ctx.clock()))

        return shell.guarded(request, render, "/ui/queue")

    @r.get("/ui/reviews")
    def reviews(request: Request) -> Response:
        def render(s: Session) -> Response:
            frame = shell.frame(s, here="/ui/reviews", notice=shell.notice(request))
            may = bool(frame.abilities and frame.abilities.review)
            return html(pages.reviews(frame, uc.console.reviews(s.token), uc.ctx.clock(), may))

        return shell.guarded(request, render, "/ui/reviews")

    @r.get("/ui/grants")
    def all_grants(request: Request) -> Response:
        status = request.query_params.get("status", "")[:20]

        def render(s: Session) -> Response:
            frame = shell.frame(s, here="/ui/grants")
            return html(pages.all_grants(frame, uc.access.list_grants(s.token, status or None), status))

        return shell.guarded(request, render, "/ui/grants")

    @r.post("/ui/grants/{grant_id}/{action}")
    async def decide(request: Request, grant_id: str, action: str) -> Response:
        def act(s: Session, form: dict[str, str]) -> Response:
            gid = _grant_id(grant_id)
            if action == "reveal":
                return _reveal(shell, request, s, gid)
            if action not in actions:
                raise NotFound("no such action", hint="approve, deny, review or reveal")
            call, done = actions[action]
            call(s.token, gid, form.get("comment") or None)
            back = BACK.get(form.get("next", ""), f"/ui/grants/{gid}")
            return redirect(f"{back}?done={done}")

        return await shell.posted(request, act)


def _reveal(shell: Shell, request: Request, s: Session, grant_id: str) -> Response:
    """The code itself (reveals in the browser), or a wrapping token and the command to unwrap it."""
    uc = shell.uc
    if shell.settings.reveal == "browser":
        revealed = uc.console.reveal_code(s.token, grant_id)
        return html(pages.revealed(shell.frame(s), revealed, shell.settings.reveal_seconds))
    result = uc.access.reveal(s.token, grant_id)
    return html(pages.wrapped(shell.frame(s), result.grant, result.wrap.token, shell.settings.vault_addr,
                              result.wrap.ttl or shell.wrap_ttl))


def _reports(r: APIRouter, shell: Shell) -> None:
    uc = shell.uc

    @r.get("/ui/accounts")
    def accounts(request: Request) -> Response:
        def render(s: Session) -> Response:
            return html(pages.accounts(shell.frame(s, here="/ui/accounts"), uc.codes.status(s.token)))

        return shell.guarded(request, render, "/ui/accounts")

    @r.get("/ui/audit")
    def audit(request: Request) -> Response:
        since, until = (request.query_params.get(k, "")[:40] for k in ("since", "until"))

        def render(s: Session) -> Response:
            frame = shell.frame(s, here="/ui/audit")
            if not (frame.abilities and frame.abilities.audit):
                uc.authz.authorize(s.token, "audit/summary", "read")  # refused: says which policy to ask for
            return html(pages.audit(frame, since, until, _window("/ui/audit/report", since, until)))

        return shell.guarded(request, render, "/ui/audit")

    @r.get("/ui/audit/report")
    def audit_report(request: Request) -> Response:
        since, until = (request.query_params.get(k, "")[:40] or None for k in ("since", "until"))
        fmt: AuditFormat = "html"
        return _report(shell, request, lambda s: uc.audit.summary(s.token, since, until, fmt))

    @r.get("/ui/inventory")
    def inventory(request: Request) -> Response:
        def render(s: Session) -> Response:
            uc.console.inventory(s.token)  # refused here when not configured or not allowed
            return html(pages.inventory(shell.frame(s, here="/ui/inventory")))

        return shell.guarded(request, render, "/ui/inventory")

    @r.get("/ui/inventory/report")
    def inventory_report(request: Request) -> Response:
        from custody.inventory.render import report_html

        return _report(shell, request, lambda s: report_html(uc.console.inventory(s.token)))


def _window(base: str, since: str, until: str) -> str:
    query = urlencode({k: v for k, v in (("since", since), ("until", until)) if v})
    return f"{base}?{query}" if query else base


def _report(shell: Shell, request: Request, make: Callable[[Session], str]) -> Response:
    """A report document; a refusal as a small document of the same kind (it shows inside the console's frame)."""

    def render(s: Session) -> Response:
        try:
            return report(make(s))
        except AuthError:
            raise
        except CustodyError as exc:
            text = join(el("p", el("strong", "Refused: "), exc.message), el("p", exc.hint) if exc.hint else None)
            return report(f"<!DOCTYPE html><html lang=\"en\"><title>Refused</title><body>{text}</body></html>",
                          exc.status)

    return shell.guarded(request, render)
