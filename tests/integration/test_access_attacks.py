"""Attacks on break-glass access, tried on a real OpenBao: what one insider can do with the tokens and policies
they hold, and what the service must refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from custody.cli.client import Client
from custody.errors import PermissionDenied, TooMany
from tests.helpers import REASON, Stack, another_server, new_codes, uniq

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def defaults(stack: Stack) -> Iterator[str]:
    """A custody server on the session's OpenBao with the default limits (the session's own lets its people hold
    more): tests that use it act as people of their own."""
    with another_server(stack, "defaults") as addr:
        yield addr


def new_account(stack: Stack, tier: str = "standard", approvals: int | None = None) -> str:
    account = f"pypi/{uniq()}"
    extra = ["--approvals", str(approvals)] if approvals is not None else []
    assert stack.cli("security", "accounts", "add", account, "--owner", "o@example.com", "--tier", tier,
                     *extra).exit_code == 0
    assert stack.cli("security", "codes", "deposit", account, stdin="\n".join(new_codes(8))).exit_code == 0
    return account


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


def test_one_engineer_cannot_drain_an_account_with_emergency_grants(stack: Stack, defaults: str) -> None:
    """Ten emergency requests and reveals took all eight codes of a three-approval account in under a second.
    Now a person holds at most one emergency grant not yet reviewed, across all accounts."""
    account, other = new_account(stack, "critical", 3), new_account(stack, "critical")
    oncall = uniq("oncall")
    stack.make_user(oncall, "custody-emergency")
    first = stack.cli(oncall, "access", "request", account, "--reason", REASON, "--emergency", "--format", "json",
                      custody_addr=defaults)
    assert first.exit_code == 0, first.err
    grant = first.json()["id"]
    assert stack.cli(oncall, "access", "reveal", grant, custody_addr=defaults).exit_code == 0
    for target in (account, other) * 5:
        r = stack.cli(oncall, "access", "request", target, "--reason", REASON, "--emergency", custody_addr=defaults)
        assert r.exit_code == 1 and f"your emergency grant {grant} on {account} awaits review" in r.err, r.err
        assert f"custody access review {grant}" in r.err
    codes = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert codes["remaining"] == 7
    assert stack.cli("approver", "access", "review", grant, "--comment", "INC-12 confirmed",
                     custody_addr=defaults).exit_code == 0
    again = stack.cli(oncall, "access", "request", other, "--reason", REASON, "--emergency", custody_addr=defaults)
    assert again.exit_code == 0, again.err


def test_open_grants_are_bounded_per_account_and_in_all(stack: Stack, defaults: str) -> None:
    """Open grants by the thousand blocked a rotation and slowed every listing; a person now holds at most three
    open grants on one account and twenty in all, and the next request is a 429 that says why."""
    accounts = [new_account(stack, "critical") for _ in range(7)]
    name = uniq("spammer")
    api = Client(defaults, stack.make_user(name, "custody-requesters"))
    held = [api.call("POST", f"accounts/{accounts[0]}/grants", {"reason": REASON})["data"]["id"] for _ in range(3)]
    with pytest.raises(TooMany, match=f"you already hold 3 open grants on {accounts[0]}") as refused:
        api.call("POST", f"accounts/{accounts[0]}/grants", {"reason": REASON})
    assert all(g in (refused.value.hint or "") for g in held)
    r = stack.cli(name, "access", "request", accounts[0], "--reason", REASON, custody_addr=defaults)
    assert r.exit_code == 1 and "at most 3" in r.err
    for account in accounts[1:]:
        for _ in range(3 if account != accounts[-1] else 2):
            api.call("POST", f"accounts/{account}/grants", {"reason": REASON})
    with pytest.raises(TooMany, match="you already hold 20 open grants across all accounts"):
        api.call("POST", f"accounts/{accounts[-1]}/grants", {"reason": REASON})
    assert stack.cli("approver", "access", "deny", held[0], "--comment", "no").exit_code == 0
    api.call("POST", f"accounts/{accounts[-1]}/grants", {"reason": REASON})  # a denied grant frees its place
    mine = api.call("GET", "grants", params={"list": "true"})["data"]["keys"]
    assert len(mine) == 21
