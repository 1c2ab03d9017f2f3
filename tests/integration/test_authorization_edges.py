"""Who may act, at the edges: tokens without an identity, sudo, a requester who left, malformed tokens, and
account names that differ only in case. Each refusal changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import REASON, Stack, uniq

pytestmark = pytest.mark.integration


def api(stack: Stack, token: str, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, f"{stack.custody_addr}/v1/custody/{path}", json=body,
                         headers={"X-Vault-Token": token}, timeout=30)


def batch_token(stack: Stack, name: str) -> str:
    auth = stack.admin().call("POST", "auth/token/create-orphan",
                              {"type": "batch", "policies": ["custody-requester"], "display_name": name, "ttl": "1h"})
    return str(auth["auth"]["client_token"])


def test_batch_tokens_without_an_identity_are_refused(stack: Stack, account: str) -> None:
    """Two such tokens cannot be told apart, so neither may hold a grant (one could reveal the other's)."""
    alice, bob = batch_token(stack, "alice"), batch_token(stack, "bob")
    for token in (alice, bob):
        resp = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON})
        assert resp.status_code == 403 and "names no identity" in resp.json()["errors"][0], resp.text
        assert api(stack, token, "GET", "whoami").status_code == 403
    listed = api(stack, stack.token("auditor"), "GET", f"grants?account={account}").json()["data"]
    assert listed["keys"] == []  # nothing was requested


def test_sudo_alone_grants_nothing(stack: Stack, account: str) -> None:
    admin = stack.admin()
    admin.call("PUT", "sys/policies/acl/codes-read-sudo",
               {"policy": 'path "custody/accounts/+/+/codes" { capabilities = ["read", "sudo"] }'})
    token = admin.call("POST", "auth/token/create", {"policies": ["codes-read-sudo"], "ttl": "1h"})["auth"][
        "client_token"]
    before = api(stack, stack.token("security"), "GET", f"accounts/{account}/codes").json()["data"]
    resp = api(stack, token, "POST", f"accounts/{account}/codes", {"codes": ["0123456789abcdef"], "replace": True})
    assert resp.status_code == 403, resp.text
    assert api(stack, token, "GET", f"accounts/{account}/codes").status_code == 200  # read is read
    assert api(stack, stack.token("security"), "GET", f"accounts/{account}/codes").json()["data"] == before


def test_a_requester_who_left_the_group_cannot_read_their_grants(stack: Stack, account: str) -> None:
    name = uniq("leaver")
    token = stack.make_user(name, "custody-requesters")
    grant = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON}).json()["data"]["id"]
    assert api(stack, token, "GET", f"grants/{grant}").status_code == 200
    admin = stack.admin()
    entity = admin.call("POST", "auth/token/lookup", {"token": token})["data"]["entity_id"]
    group = admin.call("GET", "identity/group/name/custody-requesters")["data"]
    admin.call("POST", "identity/group/name/custody-requesters",
               {"member_entity_ids": [m for m in group["member_entity_ids"] if m != entity]})
    assert api(stack, token, "GET", "grants").status_code == 403
    assert api(stack, token, "GET", f"grants/{grant}").status_code == 403


def test_a_grant_is_read_only_after_the_token_is_checked(stack: Stack, account: str) -> None:
    """Nobody learns whether a grant exists without the right to read it."""
    theirs = api(stack, stack.token("engineer2"), "POST", f"accounts/{account}/grants",
                 {"reason": REASON}).json()["data"]["id"]
    unknown = "gr_aaaaaaaaaaaaaaaa"
    for gid in (theirs, unknown):
        junk = api(stack, "hvs.not-a-real-token", "GET", f"grants/{gid}")
        assert junk.status_code == 403, junk.text
        other = api(stack, stack.token("engineer"), "GET", f"grants/{gid}")
        assert other.status_code == 403 and "not one of yours, or does not exist" in other.text, other.text
    assert api(stack, stack.token("auditor"), "GET", f"grants/{unknown}").status_code == 404
    assert api(stack, stack.token("auditor"), "GET", f"grants/{theirs}").json()["data"]["id"] == theirs


@pytest.mark.parametrize("token", ["s.abc\x01def", "tök", "a b", "x" * 5000])
def test_a_malformed_token_is_a_403_not_vault_trouble(stack: Stack, token: str) -> None:
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/grants", headers=[(b"X-Vault-Token", token.encode())])
    assert resp.status_code == 403 and "malformed client token" in resp.text, resp.text
    assert token.encode() not in resp.content


def test_usernames_that_differ_only_in_case_are_one_account(stack: Stack) -> None:
    name = uniq("CaseX")
    assert stack.cli("security", "accounts", "add", f"pypi/{name}", "--owner", "o@example.com").exit_code == 0
    for other in (name.lower(), name.upper()):
        r = stack.cli("security", "accounts", "add", f"pypi/{other}", "--owner", "o@example.com")
        assert r.exit_code == 1 and f"pypi/{name} already exists" in r.err, r.err
        assert stack.cli("security", "accounts", "show", f"pypi/{other}").exit_code == 1
