"""custody remembers who a token belongs to, but never whether it may still act: revocation, a removed group
membership and a disabled entity all take effect on the very next request, through the real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from custody.domain.models import Principal
from custody.errors import AuthError, PermissionDenied
from custody.usecases.suite import UseCases
from tests.helpers import REASON, Stack, in_process, uniq

pytestmark = pytest.mark.integration


def api(stack: Stack, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{stack.custody_addr}/v1/custody/{path}", json=body,
                         headers={"X-Vault-Token": token}, timeout=30)


def grant_ids(stack: Stack, account: str) -> set[str]:
    listed = api(stack, stack.token("security"), "GET", "grants").json()["data"]["grants"]
    return {g["id"] for g in listed if g["account"] == account}


def test_revoked_token_is_refused_on_the_next_request(stack: Stack, account: str) -> None:
    token = stack.make_user(uniq("leaver"), "custody-requesters")
    first = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON})
    assert first.status_code == 200, first.text  # the server now knows who this token is
    before = grant_ids(stack, account)

    stack.admin().call("POST", "auth/token/revoke", {"token": token})
    again = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON})
    assert again.status_code == 403
    assert "invalid or expired" in again.text and token not in again.text
    assert grant_ids(stack, account) == before  # nothing written for a dead token
    # And a read, which asks for the same capability check, is refused too.
    assert api(stack, token, "GET", f"grants/{first.json()['data']['id']}").status_code == 403


def _set_members(stack: Stack, group: str, change: Callable[[set[str]], set[str]]) -> None:
    admin = stack.admin()
    data = admin.call("GET", f"identity/group/name/{group}")["data"]
    members = change(set(data.get("member_entity_ids") or []))
    admin.call("POST", f"identity/group/name/{group}", {"member_entity_ids": sorted(members)})


def test_removed_group_membership_takes_effect_at_once(stack: Stack, account: str) -> None:
    name = uniq("mover")
    token = stack.make_user(name, "custody-requesters")
    assert api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON}).status_code == 200
    entity = stack.admin().call("POST", "auth/token/lookup", {"token": token})
    entity_id = entity["data"]["entity_id"]

    _set_members(stack, "custody-requesters", lambda m: m - {entity_id})
    before = grant_ids(stack, account)
    refused = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON})
    assert refused.status_code == 403 and "permission denied" in refused.text
    assert grant_ids(stack, account) == before


def test_disabled_entity_is_refused(stack: Stack, account: str) -> None:
    token = stack.make_user(uniq("suspended"), "custody-requesters")
    assert api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON}).status_code == 200
    entity_id = stack.admin().call("POST", "auth/token/lookup", {"token": token})["data"]["entity_id"]
    stack.admin().call("POST", f"identity/entity/id/{entity_id}", {"disabled": True})
    try:
        refused = api(stack, token, "POST", f"accounts/{account}/grants", {"reason": REASON})
        assert refused.status_code == 403, refused.text
    finally:
        stack.admin().call("POST", f"identity/entity/id/{entity_id}", {"disabled": False})


def test_identity_is_looked_up_once_per_token(stack: Stack, service: UseCases, account: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving is real: a second request by the same token asks Vault one question (capabilities), not two."""
    lookups: list[str] = []
    real = service.authz.vault.lookup

    def counted(token: str) -> tuple[Principal, int]:
        lookups.append("lookup-self")
        return real(token)

    monkeypatch.setattr(service.authz.vault, "lookup", counted)
    token = stack.token("engineer")
    service.accounts.get(token, account)
    service.accounts.get(token, account)
    service.access.request(token, account, REASON)
    assert lookups == ["lookup-self"]

    stack_token = stack.make_user(uniq("short"), "custody-requesters")
    service.accounts.get(stack_token, account)
    stack.admin().call("POST", "auth/token/revoke", {"token": stack_token})
    with pytest.raises(AuthError, match="invalid or expired"):
        service.accounts.get(stack_token, account)
    assert len(lookups) == 2
    # A refused token is forgotten: the next attempt looks it up again (and is refused again).
    with pytest.raises(AuthError):
        service.accounts.get(stack_token, account)
    assert len(lookups) == 3


def test_no_cache_means_a_lookup_per_request(stack: Stack, account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from custody.callers import CallerCache

    service = in_process(stack.service_store(), callers=CallerCache(max_age=0))
    calls: list[int] = []
    real = service.authz.vault.lookup

    def counted(token: str) -> tuple[Principal, int]:
        calls.append(1)
        return real(token)

    monkeypatch.setattr(service.authz.vault, "lookup", counted)
    for _ in range(3):
        service.accounts.get(stack.token("engineer"), account)
    assert len(calls) == 3
    with pytest.raises(PermissionDenied):
        service.codes.deposit(stack.token("engineer"), account, "0123456789abcdef")


def test_one_capability_question_about_many_paths_gets_each_paths_answer(stack: Stack, account: str) -> None:
    """The console asks about every step a page could offer at once: OpenBao's answer for each path must be
    the one a question about that path alone gets, for a person who may and one who may not."""
    store = stack.service_store()
    paths = [f"custody/accounts/{account}/grants", "custody/grants/+/approve", f"custody/accounts/{account}/emergency",
             "custody/codes", "custody/audit/summary", "custody/grants/+"]
    for who in ("engineer", "approver", "auditor"):
        token = stack.token(who)
        together = store.capabilities_many(token, [*paths, paths[0]])  # a path asked twice is answered once
        assert together == {p: store.capabilities(token, p) for p in paths}, who
    approve = "custody/grants/+/approve"
    assert "update" in store.capabilities_many(stack.token("approver"), paths)[approve]
    assert "update" not in store.capabilities_many(stack.token("engineer"), paths)[approve]
    assert store.capabilities_many(stack.token("engineer"), []) == {}
    revoked = stack.make_user(uniq("gone"))
    stack.admin().call("POST", "auth/token/revoke", {"token": revoked})
    with pytest.raises(AuthError):
        store.capabilities_many(revoked, paths)
