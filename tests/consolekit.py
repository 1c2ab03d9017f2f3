"""Driving the web console over plain HTTP (no browser): sign in, read a page's CSRF token, post its forms as the
console's own pages do (with their Origin). The browser tests drive a real Chromium instead."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PAGE = "<as the page does>"


@dataclass
class Person:
    """One browser's worth of console: its cookies, and the CSRF token of the last page it read."""

    base: str  # the custody server, e.g. http://127.0.0.1:8400
    http: httpx.Client = field(default=None)  # type: ignore[assignment]  # made in __post_init__ when not given
    csrf: str = ""

    def __post_init__(self) -> None:
        if self.http is None:
            self.http = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        resp = self.http.get(path, **kw)
        if found := _CSRF.search(resp.text):
            self.csrf = found.group(1)
        return resp

    def post(self, path: str, data: dict[str, str], origin: str | None = PAGE, csrf: str | None = PAGE,
             **kw: Any) -> httpx.Response:
        """POST a form as the console's page would (its Origin, the last page's CSRF token), or with the
        ``origin`` and ``csrf`` given (None: not sent)."""
        headers = {} if origin is None else {"Origin": self.base if origin is PAGE else origin}
        fields = dict(data)
        if csrf is not None:
            fields["csrf"] = self.csrf if csrf is PAGE else csrf
        return self.http.post(path, data=fields, headers=headers, **kw)

    def sign_in(self, username: str, password: str) -> httpx.Response:
        self.get("/ui/sign-in")
        resp = self.post("/ui/sign-in", {"method": "userpass", "username": username, "password": password})
        assert resp.status_code == 303, resp.text[:500]
        return resp

    def sign_in_with_token(self, token: str) -> httpx.Response:
        self.get("/ui/sign-in")
        return self.post("/ui/sign-in", {"method": "token", "token": token})

    def session_cookie(self) -> str | None:
        return self.http.cookies.get("custody-session")


def grant_id_from(location: str) -> str:
    found = re.search(r"/ui/grants/(gr_[a-z0-9]+)", location)
    assert found, location
    return found.group(1)
