"""Attacks on break-glass access, tried on a real OpenBao: what one insider can do with the tokens and policies
they hold, and what the service must refuse."""

from __future__ import annotations

import pytest

from custody.cli.client import Client
from custody.errors import PermissionDenied
from tests.helpers import REASON, Stack, uniq

pytestmark = pytest.mark.integration


def orphan_tokens(stack: Stack, policy: str, n: int) -> list[str]:
    """``n`` tokens with ``policy`` and no identity: minted by root from a token role with ``orphan=true``, as an
    operator who can create tokens could for themselves."""
    admin = stack.admin()
    role = uniq("orphans")
    admin.call("POST", f"auth/token/roles/{role}", {"orphan": True, "allowed_policies": [policy],
                                                     "token_type": "service"})
    tokens = []
    for _ in range(n):
        auth = admin.call("POST", f"auth/token/create/{role}", {"policies": [policy]})["auth"]
        assert not auth.get("entity_id")
        tokens.append(str(auth["client_token"]))
    return tokens


def test_tokens_without_an_identity_can_neither_approve_nor_request(stack: Stack, critical_account: str) -> None:
    """One person with two identity-less approver tokens approved their own grant twice: each token counted as a
    different approver. Every step of a grant now needs a token tied to a Vault identity."""
    grant = Client(stack.custody_addr, stack.token("engineer")).call(
        "POST", f"accounts/{critical_account}/grants", {"reason": REASON})["data"]
    first, second = orphan_tokens(stack, "custody-approver", 2)
    for token in (first, second):
        with pytest.raises(PermissionDenied, match="no Vault identity") as refused:
            Client(stack.custody_addr, token).call("POST", f"grants/{grant['id']}/approve")
        assert "log in" in (refused.value.hint or "")
    shown = Client(stack.custody_addr, stack.token("auditor")).call("GET", f"grants/{grant['id']}")["data"]
    assert shown["status"] == "pending" and shown["approvals"] == []
    for action in ("deny", "review"):
        with pytest.raises(PermissionDenied, match="no Vault identity"):
            Client(stack.custody_addr, first).call("POST", f"grants/{grant['id']}/{action}")
    requester, = orphan_tokens(stack, "custody-requester", 1)
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        Client(stack.custody_addr, requester).call("POST", f"accounts/{critical_account}/grants", {"reason": REASON})
    with pytest.raises(PermissionDenied, match="no Vault identity"):
        Client(stack.custody_addr, requester).call("POST", f"grants/{grant['id']}/reveal")
