"""Signing in to the console with OIDC, end to end: a real Chromium, a custody server whose console offers Vault's
OIDC auth method, the session's real OpenBao with that method configured to trust a small local provider
(``tests.oidc_provider``), on another site (``localhost``) than custody (``127.0.0.1``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from custody.devkit import child_env, free_port, start_server, stop, wait_http
from tests.browser import ARGS, CHROMIUM
from tests.helpers import Stack
from tests.oidc_provider import Provider, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def oidc(stack: Stack) -> Iterator[tuple[Provider, str]]:
    """The provider, Vault's OIDC method trusting it (role ``custody``: the requester policy), and a custody
    server whose console offers it; yields the provider and the server's address."""
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    admin = stack.admin()
    with running() as provider:
        if "oidc/" not in admin.call("GET", "sys/auth").get("data", {}):
            admin.call("POST", "sys/auth/oidc", {"type": "oidc"})
        admin.call("POST", "auth/oidc/config", {"oidc_discovery_url": provider.issuer,
                                                "oidc_client_id": provider.client_id,
                                                "oidc_client_secret": provider.client_secret,
                                                "default_role": "custody"})
        admin.call("POST", "auth/oidc/role/custody", {
            "role_type": "oidc", "user_claim": "email", "bound_audiences": [provider.client_id],
            "allowed_redirect_uris": [f"{addr}/ui/oidc/callback"], "token_policies": ["custody-requester"],
            "token_ttl": "1h", "oidc_scopes": ["email"]})
        role_id = admin.call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
        env = child_env(stack.dir) | {
            "CUSTODY_VAULT_ADDR": stack.vault_addr, "CUSTODY_ROLE_ID": role_id,
            "CUSTODY_SECRET_ID_FILE": str(stack.dir / "service-secret-id"), "CUSTODY_LISTEN_PORT": str(port),
            "CUSTODY_CONSOLE_KEY_FILE": str(stack.dir / "console.key"), "CUSTODY_CONSOLE_URL": f"{addr}/ui/",
            "CUSTODY_CONSOLE_OIDC_MOUNT": "oidc"}
        pid = start_server(env, stack.dir / "custody-oidc.log")
        try:
            wait_http(f"{addr}/v1/custody/health", 20)
            yield provider, addr
        finally:
            stop(pid)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian's chromium package) to drive")
def test_a_person_signs_in_through_vaults_oidc_method_in_a_browser(oidc: tuple[Provider, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, addr = oidc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{addr}/ui/sign-in")
            with page.expect_navigation(url=re.compile(r"/ui/requests$"), timeout=30_000):
                page.get_by_role("button", name="Sign in with single sign-on").click()
            expect(page.locator(".who")).to_contain_text("alice@example.com")
            expect(page.get_by_role("link", name="My requests")).to_be_visible()
            assert page.evaluate("document.cookie") == ""
            names = {c["name"]: c for c in page.context.cookies()}
            assert names["custody-session"]["sameSite"] == "Strict" and names["custody-session"]["httpOnly"]
            assert "custody-oidc" not in names  # used once, then cleared
        finally:
            browser.close()


def _start(addr: str) -> tuple[httpx.Client, str]:
    """The sign-in page's OIDC form, submitted: the client (with its cookies) and the provider's address."""
    client = httpx.Client(base_url=addr, follow_redirects=False, timeout=30)
    page = client.get("/ui/sign-in").text
    csrf = re.search(r'action="/ui/sign-in/oidc".*?name="csrf" value="([^"]+)"', page, re.S)
    assert csrf, page
    resp = client.post("/ui/sign-in/oidc", data={"csrf": csrf.group(1)}, headers={"Origin": addr})
    assert resp.status_code == 200 and "oidc" in resp.headers["set-cookie"]
    to = re.search(r'url=([^"]+)"', resp.text)
    assert to
    return client, to.group(1).replace("&amp;", "&")


def test_a_callback_this_browser_did_not_start_signs_nobody_in(oidc: tuple[Provider, str]) -> None:
    _, addr = oidc
    _, authorize = _start(addr)
    callback = httpx.get(authorize, follow_redirects=False).headers["location"]
    assert callback.startswith(f"{addr}/ui/oidc/callback?")
    other = httpx.Client(base_url=addr, follow_redirects=False)  # another browser: no OIDC cookie of its own
    resp = other.get(callback.removeprefix(addr))
    assert resp.status_code == 403 and "was not started in this browser" in resp.text
    assert "custody-session" not in resp.headers.get("set-cookie", "")


def test_a_provider_that_refuses_signs_nobody_in(oidc: tuple[Provider, str]) -> None:
    provider, addr = oidc
    client, authorize = _start(addr)
    provider.refuse = True
    try:
        callback = httpx.get(authorize, follow_redirects=False).headers["location"]
    finally:
        provider.refuse = False
    resp = client.get(callback.removeprefix(addr))
    assert resp.status_code == 403 and "did not sign you in" in resp.text
    assert "custody-session=" not in resp.headers.get("set-cookie", "")


def test_a_console_without_oidc_offers_no_single_sign_on(stack: Stack) -> None:
    page = httpx.get(f"{stack.custody_addr}/ui/sign-in").text
    assert "single sign-on" not in page and "/ui/sign-in/oidc" not in page
