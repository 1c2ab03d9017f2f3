"""What every console route shares: the session (or the sign-in page without one), the frame of a page, the
checks a POST passes before anything is done, and how a refusal is shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from custody.config import ConsoleSettings
from custody.console import pages
from custody.console.answers import html, redirect
from custody.console.layout import Frame
from custody.console.session import Cookies, Session, check_form
from custody.errors import AuthError, CustodyError, ValidationError
from custody.logging import get_logger
from custody.urls import origin
from custody.usecases.suite import UseCases

log = get_logger("custody.console")

DONE = {"requested": "Your request is recorded; approvers have been notified.", "approved": "Approved.",
        "denied": "Denied.", "reviewed": "Your review is recorded.", "signed-out": "You are signed out.",
        "ended": "Your session has ended: sign in again."}
BACK = {"queue": "/ui/queue", "reviews": "/ui/reviews"}  # else the grant's own page


class SignInNeeded(Exception):
    """No session, or one that has ended: the person is sent to the sign-in page."""


async def form_of(request: Request) -> dict[str, str]:
    """A form POST's fields (the first value of each), read whatever content type the request says."""
    body = (await request.body()).decode("utf-8", "replace")
    try:
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except ValueError:
        raise ValidationError("too many form fields") from None
    return {k: v[0] for k, v in parsed.items()}


@dataclass(frozen=True)
class Shell:
    uc: UseCases
    settings: ConsoleSettings
    cookies: Cookies
    rules: pages.RequestRules
    wrap_ttl: int  # seconds a wrapping token lives (CUSTODY_WRAP_TTL)

    # ---- sessions ------------------------------------------------------------------------------------------
    def session(self, request: Request) -> Session:
        found = self.cookies.session(request)
        if found is None:
            raise SignInNeeded()
        return found

    def frame(self, s: Session, here: str = "", notice: str = "", error: CustodyError | None = None) -> Frame:
        return Frame(abilities=self.uc.console.abilities(s.token), csrf=s.csrf, here=here, notice=notice,
                     error=error, inventory=self.settings.inventory_report is not None)

    def ended(self, request: Request, notice: str = "ended") -> Response:
        response = redirect(f"/ui/sign-in?done={notice}")
        self.cookies.clear(response, request, "session")
        return response

    def guarded(self, request: Request, render: Callable[[Session], Response], here: str = "") -> Response:
        """``render`` for the request's session; the sign-in page without one; an error page for a refusal."""
        try:
            s = self.session(request)
        except SignInNeeded:
            return redirect("/ui/sign-in")
        try:
            return render(s)
        except AuthError:  # Vault no longer takes the token: revoked, expired
            return self.ended(request)
        except CustodyError as exc:
            return self.refused(request, s, exc, here)

    def refused(self, request: Request, s: Session, exc: CustodyError, here: str = "") -> Response:
        if exc.status >= 500:
            log.error("console.failed", error=exc.message, error_code=exc.code)
        try:
            frame = self.frame(s, here=here, error=exc)
        except AuthError:
            return self.ended(request)
        except CustodyError:
            frame = Frame(error=exc, csrf=s.csrf)
        return html(pages.message("Refused" if exc.status < 500 else "Not available", frame), exc.status)

    async def posted(self, request: Request, act: Callable[[Session, dict[str, str]], Response],
                     here: str = "") -> Response:
        """A POST's form, checked (origin, CSRF) against the session, then ``act``ed on in a worker thread."""
        try:
            s = self.session(request)
        except SignInNeeded:
            return redirect("/ui/sign-in")
        try:
            form = await form_of(request)
            check_form(request, form, s.csrf, self.settings.url)
        except CustodyError as exc:
            return await run_in_threadpool(self.refused, request, s, exc, here)
        return await run_in_threadpool(self.guarded, request, lambda s: act(s, form), here)

    def notice(self, request: Request) -> str:
        return DONE.get(request.query_params.get("done", ""), "")

    def addr(self, request: Request) -> str:
        """The console's own address (as people open it), for commands and OIDC redirects."""
        if self.settings.url:
            return self.settings.url.rstrip("/").removesuffix("/ui")
        found = origin(f"{request.url.scheme}://{request.headers.get('host', '')}")
        return str(found) if found else str(request.base_url).rstrip("/")
