"""The console's session: the person's Vault token sealed in a cookie, and the checks every state change passes.

custody keeps no session store: the cookie is the session. It holds the token, the person's display name, a
random CSRF token and the end of the session (the token's end, or the maximum age), sealed with the shared key
(``custody.console.seal``), so any replica opens it and none can be forged or read by the browser. The cookie is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), and under TLS Secure with the
``__Host-`` prefix (no subdomain can set it).

Every POST must carry the session's CSRF token in a hidden ``csrf`` field (compared in constant time) and come
from the console's own origin (``Origin``, as browsers send on every POST). Sign-in forms, before any session,
carry the CSRF token of a short-lived pre-session cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from custody.console.seal import KeyRing
from custody.errors import PermissionDenied
from custody.urls import origin
from custody.usecases.signin import Person

SESSION = "session"
PRESESSION = "signin"
OIDC = "oidc"
PRESESSION_SECONDS = 15 * 60
OIDC_SECONDS = 10 * 60


@dataclass(frozen=True)
class Session:
    """An open session. ``token`` is the person's Vault token: never in a page, a log or a repr."""

    token: str
    name: str
    csrf: str
    expires_at: float  # seconds since the epoch

    def __repr__(self) -> str:
        return f"Session({self.name!r})"


@dataclass(frozen=True)
class Cookies:
    """Reading and writing the console's cookies, with the flags the request's transport calls for."""

    ring: KeyRing
    public_url: str | None  # the console's address as people open it (CUSTODY_CONSOLE_URL), if set

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or bool(self.public_url and self.public_url.startswith("https://"))

    def name(self, request: Request, kind: str) -> str:
        return f"__Host-custody-{kind}" if self.secure(request) else f"custody-{kind}"

    def _set(self, response: Response, request: Request, kind: str, value: str, max_age: int,
             samesite: Literal["strict", "lax"] = "strict") -> None:
        response.set_cookie(self.name(request, kind), value, max_age=max(int(max_age), 0), path="/",
                            secure=self.secure(request), httponly=True, samesite=samesite)

    def clear(self, response: Response, request: Request, kind: str) -> None:
        response.delete_cookie(self.name(request, kind), path="/", secure=self.secure(request), httponly=True,
                               samesite="strict")

    def _open(self, request: Request, kind: str) -> dict[str, Any] | None:
        value = request.cookies.get(self.name(request, kind))
        payload = self.ring.open(kind, value) if value else None
        if payload is None or not isinstance(payload.get("exp"), int | float) or payload["exp"] <= time.time():
            return None
        return payload

    # ---- the session --------------------------------------------------------------------------------------
    def start(self, response: Response, request: Request, person: Person) -> None:
        ends = person.expires_at.timestamp()
        sealed = self.ring.seal(SESSION, {"t": person.token, "n": person.principal.display_name,
                                          "c": secrets.token_urlsafe(24), "exp": ends})
        self._set(response, request, SESSION, sealed, int(ends - time.time()))
        self.clear(response, request, PRESESSION)

    def session(self, request: Request) -> Session | None:
        """The request's open session; None when there is none, it was tampered with, or it has ended."""
        p = self._open(request, SESSION)
        if p is None or not all(isinstance(p.get(k), str) for k in ("t", "n", "c")):
            return None
        return Session(token=p["t"], name=p["n"], csrf=p["c"], expires_at=float(p["exp"]))

    # ---- before a session: the sign-in form, the OIDC round trip ---------------------------------------------
    def presession(self, request: Request, response: Response) -> str:
        """The CSRF token of the sign-in form: the pre-session cookie's (made, or renewed, now)."""
        p = self._open(request, PRESESSION)
        csrf = str(p["c"]) if p and isinstance(p.get("c"), str) else secrets.token_urlsafe(24)
        sealed = self.ring.seal(PRESESSION, {"c": csrf, "exp": time.time() + PRESESSION_SECONDS})
        self._set(response, request, PRESESSION, sealed, PRESESSION_SECONDS)
        return csrf

    def presession_csrf(self, request: Request) -> str | None:
        p = self._open(request, PRESESSION)
        return str(p["c"]) if p and isinstance(p.get("c"), str) else None

    def start_oidc(self, response: Response, request: Request, client_nonce: str) -> None:
        # Lax: the provider sends the person back with a cross-site navigation, which a Strict cookie misses.
        sealed = self.ring.seal(OIDC, {"nonce": client_nonce, "exp": time.time() + OIDC_SECONDS})
        self._set(response, request, OIDC, sealed, OIDC_SECONDS, samesite="lax")

    def oidc_nonce(self, request: Request) -> str | None:
        p = self._open(request, OIDC)
        return str(p["nonce"]) if p and isinstance(p.get("nonce"), str) else None


def check_form(request: Request, form: dict[str, str], expected_csrf: str | None, public_url: str | None) -> None:
    """Refuse a POST that does not come from the console's own pages: another origin, or no (or the wrong) CSRF
    token."""
    want = origin(public_url) if public_url else origin(f"{request.url.scheme}://{request.headers.get('host', '')}")
    sent = request.headers.get("origin")
    if sent is None and (referer := request.headers.get("referer")):
        sent = referer  # a browser that sends no Origin sends the page it came from
    if want is None or sent is None or origin(sent.split("?", 1)[0]) != want:
        raise PermissionDenied("this form was not sent from the console's own page",
                               hint="open the console and submit the form again")
    given = form.get("csrf", "")
    if not expected_csrf or not hmac.compare_digest(given.encode(), expected_csrf.encode()):
        raise PermissionDenied("this form has expired or was not sent from the console's own page",
                               hint="reload the page and submit the form again")
