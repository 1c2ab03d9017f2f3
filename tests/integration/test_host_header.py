"""No answer builds an absolute URL from what the request says about itself (its Host header): a path with a
trailing slash is answered like the path without it, as Vault does, never with a redirect."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import REASON, Stack

pytestmark = pytest.mark.integration


def test_a_trailing_slash_is_answered_in_place_whatever_the_host(stack: Stack, account: str) -> None:
    url = f"{stack.custody_addr}/v1/custody/accounts/{account}/grants/"
    r = httpx.post(url, json={"reason": REASON}, follow_redirects=False,
                   headers={"Host": "evil.example", "X-Vault-Token": stack.token("engineer")})
    assert "location" not in r.headers and "evil.example" not in r.text, (r.status_code, r.headers)
    assert r.status_code == 200 and r.json()["data"]["account"] == account, r.text


@pytest.mark.parametrize(("method", "path", "who"), [
    ("GET", "accounts/?list=true", "security"), ("LIST", "accounts/", "security"),
    ("GET", "grants/?list=true", "engineer"), ("GET", "whoami/", "engineer"), ("GET", "health/", None),
    ("GET", "health/live/", None), ("GET", "nowhere/", None),
])
def test_no_redirect_on_any_path(stack: Stack, method: str, path: str, who: str | None) -> None:
    headers = {"Host": "evil.example"} | ({"X-Vault-Token": stack.token(who)} if who else {})
    r = httpx.request(method, f"{stack.custody_addr}/v1/custody/{path}", headers=headers, follow_redirects=False)
    assert not 300 <= r.status_code < 400 and "location" not in r.headers, (r.status_code, r.headers)
    assert "evil.example" not in r.text
