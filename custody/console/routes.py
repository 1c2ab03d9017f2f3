"""``/ui/``: the web console. Like the API's routers, each route parses the request, calls one use case with the
signed-in person's own Vault token, and renders the answer, here as HTML (``custody.console.views``; signing in and
out: ``custody.console.auth``).

Every answer carries a Content-Security-Policy without inline scripts or styles (``custody.console.answers``);
every POST passes the Origin and CSRF checks (``custody.console.session.check_form``); an ended session, or a token
Vault no longer accepts, sends the person back to the sign-in page having done nothing.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.responses import Response

from custody.config import ConsoleSettings
from custody.console import auth, pages, views
from custody.console.answers import html, static
from custody.console.layout import Frame
from custody.console.seal import KeyRing
from custody.console.session import Cookies
from custody.console.shell import Shell
from custody.durations import format_duration
from custody.usecases.suite import UseCases


def router(uc: UseCases, settings: ConsoleSettings, ring: KeyRing | None) -> APIRouter:
    """The console's routes; without a key ring (no ``CUSTODY_CONSOLE_KEY_FILE``) one page saying how to turn it
    on."""
    r = APIRouter(include_in_schema=False)

    @r.get("/ui/static/{name}")
    def asset(name: str) -> Response:
        return static(name)

    if ring is None:
        @r.get("/ui/{rest:path}")
        def off(rest: str) -> Response:
            return html(pages.message("The console is off", Frame(),
                                      "This custody server has no console key: set CUSTODY_CONSOLE_KEY_FILE "
                                      "(see docs/console.md)."), 404)

        return r
    policy = uc.ctx.settings
    rules = pages.RequestRules(reason_min=policy.reason_min_length, ticket_pattern=policy.ticket_pattern,
                               ttl_default=format_duration(policy.grant_ttl),
                               ttl_max=format_duration(policy.grant_max_ttl))
    shell = Shell(uc, settings, Cookies(ring, settings.url), rules,
                  wrap_ttl=int(policy.wrap_ttl / timedelta(seconds=1)))
    auth.add(r, shell)
    views.add(r, shell)
    return r
