"""Signing in and out of the console: ``/ui/sign-in`` (a password forwarded to Vault's userpass or LDAP auth
method, or a pasted Vault token), ``/ui/sign-in/oidc`` and ``/ui/oidc/callback`` (Vault's OIDC auth method), and
``/ui/sign-out`` (the token revoked). Each calls the ``SignIn`` use case; the session is the sealed cookie."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from custody.console import pages
from custody.console.answers import html, redirect
from custody.console.session import OIDC, PRESESSION, Session, check_form
from custody.console.shell import Shell, form_of
from custody.errors import AuthError, CustodyError


def add(r: APIRouter, shell: Shell) -> None:
    cookies, signin, url = shell.cookies, shell.uc.signin, shell.settings.url

    def sign_in_page(request: Request, error: CustodyError | None = None, username: str = "",
                     status: int = 200) -> Response:
        response = Response()
        csrf = cookies.presession(request, response)
        page = pages.sign_in(signin.methods, csrf, error, shell.notice(request), username)
        return html(page, status, cookies_from=response)

    @r.get("/ui/sign-in")
    def sign_in_form(request: Request) -> Response:
        return sign_in_page(request)

    @r.post("/ui/sign-in")
    async def sign_in(request: Request) -> Response:
        form: dict[str, str] = {}
        try:
            form = await form_of(request)
            check_form(request, form, cookies.presession_csrf(request), url)
            if form.get("method") == "token":
                person = await run_in_threadpool(signin.with_token, form.get("token", ""))
            else:
                person = await run_in_threadpool(signin.with_password, form.get("method", ""),
                                                 form.get("username", ""), form.get("password", ""))
        except CustodyError as exc:
            return sign_in_page(request, exc, form.get("username", "")[:256], status=exc.status)
        response = redirect("/ui/")
        cookies.start(response, request, person)
        return response

    @r.post("/ui/sign-in/oidc")
    async def oidc_start(request: Request) -> Response:
        nonce = secrets.token_urlsafe(24)  # binds Vault's OIDC round trip to this browser (client_nonce)
        try:
            form = await form_of(request)
            check_form(request, form, cookies.presession_csrf(request), url)
            to = await run_in_threadpool(signin.oidc_start, f"{shell.addr(request)}/ui/oidc/callback", nonce)
        except CustodyError as exc:
            return sign_in_page(request, exc, status=exc.status)
        response = html(pages.to_provider(to))
        cookies.start_oidc(response, request, nonce)
        return response

    @r.get("/ui/oidc/callback")
    def oidc_callback(request: Request) -> Response:
        q = request.query_params
        nonce = cookies.oidc_nonce(request)
        try:
            if q.get("error"):
                raise AuthError("the identity provider did not sign you in", hint="try again, or another method")
            if nonce is None:
                raise AuthError("this sign-in was not started in this browser, or took too long",
                                hint="sign in again")
            person = signin.oidc_finish(q.get("state", ""), q.get("code", ""), nonce)
        except CustodyError as exc:
            return sign_in_page(request, exc, status=exc.status)
        response = html(pages.signed_in("/ui/"))
        cookies.start(response, request, person)
        cookies.clear(response, request, OIDC)
        cookies.clear(response, request, PRESESSION)
        return response

    @r.post("/ui/sign-out")
    async def sign_out(request: Request) -> Response:
        def out(s: Session, _: dict[str, str]) -> Response:
            signin.sign_out(s.token, s.name)
            return shell.ended(request, "signed-out")

        return await shell.posted(request, out)
