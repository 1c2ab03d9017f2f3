"""Attacks on break-glass access, tried on a real OpenBao: what one insider can do with the tokens and policies
they hold, and what the service must refuse."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from custody.cli.client import Client
from custody.config import PolicySettings
from custody.devstack import bao_binary
from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.models import GrantStatus
from custody.errors import PermissionDenied, PreconditionFailed, TooMany
from custody.fanout import concurrently
from custody.repo.kv import KVEntry
from custody.repo.records import evidence_path
from custody.store import Store
from custody.usecases.suite import UseCases
from tests.helpers import DEPOSITED, REASON, Clock, Stack, another_server, in_process, new_codes, uniq

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


class CountingStore(Store):
    """The service's real Store, counting the grant records it reads."""

    grant_reads = 0

    def read(self, path: str, version: int | None = None) -> KVEntry | None:
        if path.startswith("grants/"):
            self.grant_reads += 1
        return super().read(path, version)


@pytest.mark.slow
def test_two_thousand_open_grants_neither_slow_a_listing_nor_block_a_rotation(stack: Stack, service: UseCases,
                                                                             clock: Clock) -> None:
    """With about a thousand open grants on an account, its rotation's evidence outgrew what OpenBao accepts
    ("exceeded maximum number of strings"), `--resume` failed the same way, and the account stayed half-rotated;
    every listing read every grant. The grants are written as the service writes them (limits aside, which is what
    let them pile up); the rotation goes through the API."""
    account = new_account(stack)
    spammer = service.authz.caller(stack.make_user(uniq("spammer"), "custody-requesters"))
    subject = service.ctx.repo.accounts.get(account)
    now = clock()
    service.ctx.repo.grants.ensure_index(spammer, now)  # the session's grants from before: indexed once
    spam = [rules.request(subject, spammer, REASON, None, now, timedelta(hours=24), codes_generation=1)
            for _ in range(2000)]
    concurrently(lambda g: service.ctx.repo.grants.create(g, Event.grant_requested, spammer, now), spam)
    quiet = uniq("quiet")
    token = stack.make_user(quiet, "custody-requesters")
    own = Client(stack.custody_addr, token).call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]

    counting = CountingStore(stack.vault_addr)
    counting.use_token(stack.service_store()._refresh())
    listed = in_process(counting, settings=PolicySettings(), clock=clock).access.list_grants(token)
    assert [g.id for g in listed] == [own["id"]] and counting.grant_reads == 1

    rotated = stack.cli("security", "codes", "rotate", account, "--reason", "grant spam", "--format", "json",
                        stdin="\n".join(new_codes(8)))
    assert rotated.exit_code == 0, rotated.err
    result = rotated.json()
    assert result["status"] == "completed" and len(result["revoked_grants"]) == 2001
    assert set(result["revoked_grants"]) == {g.id for g in spam} | {own["id"]}
    evidence = service.ctx.repo.rotations.evidence(account, 1)
    assert evidence is not None and set(evidence.value.revoked_grants) == set(result["revoked_grants"])
    raw = service.ctx.repo.kv.read(evidence_path(account, 1))
    assert raw is not None
    assert (raw.data["revoked_count"], len(raw.data["revoked_grants"]), raw.data["revoked_pages"]) == (2001, 100, 4)
    statuses = {g.status for g in service.ctx.repo.grants.of_account(account)}
    assert statuses == {GrantStatus.revoked}


def test_a_replacement_revokes_the_grants_approved_for_the_old_codes(stack: Stack) -> None:
    """A grant approved before `codes deposit --replace` stayed approved (its reveal failed with "request a new
    grant"): it is revoked now, as a rotation would revoke it, and the replacement's evidence names it."""
    account = new_account(stack)
    grant = Client(stack.custody_addr, stack.token("engineer2")).call(
        "POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
    assert grant["status"] == "approved"
    r = stack.cli("security", "codes", "deposit", account, "--replace", stdin="\n".join(new_codes(8)))
    assert r.exit_code == 0 and f"revoked the grants open for the old codes: {grant['id']}" in r.out, r.err
    shown = stack.cli("engineer2", "access", "show", grant["id"], "--format", "json").json()
    assert (shown["status"], shown["revoked_reason"]) == ("revoked", "codes replaced")
    r = stack.cli("engineer2", "access", "reveal", grant["id"])
    assert r.exit_code == 1 and "is revoked (codes replaced)" in r.err and "request a new grant" in r.err
    evidence = stack.admin().call("GET", f"custody-kv/data/replacements/{account}/2")["data"]["data"]
    assert (evidence["status"], evidence["revoked_grants"], evidence["actor"]) == (
        "completed", [grant["id"]], "userpass-security")


def test_fifty_racing_reveals_of_one_grant_give_one_token(stack: Stack, account: str) -> None:
    """50 simultaneous reveals of one grant returned 10-14 HTTP 200s, each with its own wrapping token for the same
    code. Now exactly one reveal answers 200 and the others a clean 409; the code comes out once."""
    token = stack.token("engineer2")
    grant = Client(stack.custody_addr, token).call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
    start = threading.Barrier(50)

    def reveal(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.custody_addr, timeout=60) as http:
            start.wait()
            return http.post(f"/v1/custody/grants/{grant['id']}/reveal", headers={"X-Vault-Token": token})

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(reveal, range(50)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 49, [a.text for a in answers][:3]
    for refused in (a for a in answers if a.status_code == 409):
        message = refused.json()["errors"][0]
        assert "is in progress" in message or "was already revealed" in message, message
    wrapping = next(a for a in answers if a.status_code == 200).json()["wrap_info"]["token"]
    assert Client(stack.custody_addr, token).unwrap(stack.vault_addr, wrapping)["code"] in DEPOSITED
    codes = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert codes["consumed"] == 1


def test_a_reveal_whose_answer_was_lost_is_taken_again_and_the_first_token_dies(stack: Stack, account: str) -> None:
    api = Client(stack.custody_addr, stack.token("engineer2"))
    grant = api.call("POST", f"accounts/{account}/grants", {"reason": REASON})["data"]
    lost = api.call("POST", f"grants/{grant['id']}/reveal")["wrap_info"]["token"]  # never reached the requester
    r = stack.cli("engineer2", "access", "reveal", grant["id"])
    assert r.exit_code == 1 and "already revealed" in r.err and f"--again {grant['id']}" in r.err
    r = stack.cli("engineer2", "access", "reveal", grant["id"], "--again", "--format", "json")
    assert r.exit_code == 0, r.err
    assert r.json()["code"] in DEPOSITED
    with pytest.raises(PreconditionFailed, match="could not be unwrapped"):
        api.unwrap(stack.vault_addr, lost)  # revoked before the new one went out
    r = stack.cli("engineer2", "access", "reveal", grant["id"], "--again")
    assert r.exit_code == 1 and "no longer valid: it was unwrapped" in r.err  # the code went out once: no more
    codes = stack.cli("security", "codes", "status", account, "--format", "json").json()
    assert codes["consumed"] == 1


def test_bao_unwrap_field_code_prints_the_code(stack: Stack, account: str) -> None:
    """`bao unwrap -field=code TOKEN`, the Vault habit, printed `Field "code" not present in secret` and spent the
    single-use token. The wrapped answer now holds `code` at the top of its data."""
    grant = Client(stack.custody_addr, stack.token("engineer2")).call(
        "POST", f"accounts/{account}/grants", {"reason": REASON})["data"]

    def bao(addr: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env |= {"BAO_ADDR": addr, "BAO_TOKEN": stack.token("engineer2")}
        return subprocess.run([bao_binary(), *args], env=env, capture_output=True, text=True, timeout=30)

    wrapped = bao(stack.custody_addr, "write", "-force", "-field=wrapping_token",
                  f"custody/grants/{grant['id']}/reveal")
    assert wrapped.returncode == 0, wrapped.stderr
    code = bao(stack.vault_addr, "unwrap", "-field=code", wrapped.stdout.strip())
    assert code.returncode == 0, code.stderr
    assert code.stdout.strip() in DEPOSITED


def test_revealing_a_pending_grant_says_who_still_has_to_approve(stack: Stack, critical_account: str) -> None:
    grant = Client(stack.custody_addr, stack.token("engineer")).call(
        "POST", f"accounts/{critical_account}/grants", {"reason": REASON})["data"]
    assert stack.cli("approver", "access", "approve", grant["id"]).exit_code == 0
    r = stack.cli("engineer", "access", "reveal", grant["id"])
    assert r.exit_code == 1 and "is pending; it cannot be revealed yet" in r.err
    assert "it needs 1 more approval of 2 (approved so far by userpass-approver)" in r.err
    assert "a requester cannot approve their own grant" in r.err and f"custody access approve {grant['id']}" in r.err
