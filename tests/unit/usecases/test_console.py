"""The console's use cases over the in-memory KV and the fake Vault: what each person's policy lets the pages show,
the approval queue, a reveal taken to the code, and signing in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from custody.config import ConsoleSettings
from custody.errors import AuthError, PermissionDenied, ValidationError
from custody.usecases.signin import SignIn
from tests.fakes import REASON, World, an_account, world


class Unwrapping:
    """Vault's unwrap, over the in-memory KV's wrapping tokens; remembers whose token asked."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.callers: list[str] = []

    def unwrap(self, token: str, wrapping_token: str) -> dict[str, Any]:
        self.callers.append(token)
        return {"data": self.w.kv.unwrap(wrapping_token), "metadata": {}}  # a KV v2 read's shape


@pytest.mark.parametrize(("who", "expected"), [
    ("engineer", {"request"}), ("engineer2", {"request"}),
    ("approver", {"approve", "deny", "review", "grants"}),
    ("security", {"deny", "grants", "codes"}), ("auditor", {"grants", "codes", "audit"})])
def test_the_pages_a_person_is_offered_are_what_their_policy_allows(w: World, who: str, expected: set[str]) -> None:
    a = w.uc.console.abilities(w.token[who])
    shown = {k for k in ("request", "approve", "deny", "review", "grants", "codes", "audit") if getattr(a, k)}
    assert shown == expected and a.who == w.who(who)


def test_a_page_asks_vault_what_its_reader_may_do_in_one_question(w: World) -> None:
    """Every console page shows what its reader may do: one capabilities-self call for all of it, not one a path
    (a queue of 50 grants was 50 calls, the request form one per account)."""
    an_account(w, "pypi/acme", tier="critical")
    an_account(w, "pypi/other", tier="critical")
    for _ in range(3):
        w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    g = w.uc.access.request(w.token["engineer"], "pypi/other", REASON)
    before = w.vault.calls["capabilities"]
    w.uc.console.abilities(w.token["approver"])
    assert w.vault.calls["capabilities"] - before == 1  # seven questions in one
    for page in (lambda t: w.uc.console.request_form(t), lambda t: w.uc.console.grant_page(t, g.id)):
        before = w.vault.calls["capabilities"]
        page(w.token["approver"])
        assert w.vault.calls["capabilities"] - before <= 2  # the page's own question, and the route's authorization
    before = w.vault.calls["capabilities"]
    assert len(w.uc.console.queue(w.token["approver"])) == 4
    assert w.vault.calls["capabilities"] - before <= 4  # listing, the approvals, the accounts


def test_the_queue_holds_pending_grants_of_others_not_yet_approved_by_the_approver(w: World) -> None:
    an_account(w, "pypi/acme", tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    assert [r.grant.id for r in w.uc.console.queue(w.token["approver"])] == [g.id]
    assert w.uc.console.queue(w.token["approver"])[0].account is not None
    w.uc.access.approve(w.token["approver"], g.id, "ok")
    assert w.uc.console.queue(w.token["approver"]) == []
    assert [r.grant.id for r in w.uc.console.queue(w.token["approver2"])] == [g.id]
    assert w.uc.console.queue(w.token["engineer"]) == []  # sees only their own grants: nothing to approve
    assert [x.id for x in w.uc.console.my_requests(w.token["engineer"])] == [g.id]
    assert w.uc.console.my_requests(w.token["engineer2"]) == []


def test_a_grant_page_offers_only_the_steps_the_person_may_take_now(w: World) -> None:
    an_account(w, "pypi/acme", tier="critical")
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    mine = w.uc.console.grant_page(w.token["engineer"], g.id)
    assert mine.mine and not (mine.approve or mine.deny or mine.reveal)
    theirs = w.uc.console.grant_page(w.token["approver"], g.id)
    assert theirs.approve and theirs.deny and not theirs.reveal and not theirs.review
    with pytest.raises(PermissionDenied):
        w.uc.console.grant_page(w.token["engineer2"], g.id)


def test_a_reveal_is_unwrapped_with_the_requesters_own_token_once() -> None:
    w = world()
    codes = an_account(w, "pypi/acme")
    unwrapping = Unwrapping(w)
    console = w.uc.console.__class__(w.uc.ctx, w.uc.authz, w.uc.access, unwrapping)
    g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
    assert w.uc.console.grant_page(w.token["engineer"], g.id).reveal
    revealed = console.reveal_code(w.token["engineer"], g.id)
    assert revealed.code == codes[0] and unwrapping.callers == [w.token["engineer"]]
    assert revealed.code not in repr(revealed)
    with pytest.raises(Exception, match="already revealed"):
        console.reveal_code(w.token["engineer"], g.id)


def test_signing_in_with_a_token_checks_it_and_ends_with_it_or_the_maximum_age() -> None:
    w = world()
    signin = w.uc.signin
    person = signin.with_token(w.token["engineer"])
    assert person.principal == w.who("engineer")
    assert person.expires_at == w.clock.now + ConsoleSettings().session_max_age
    short = w.vault.add("brief", ("custody-requester",), ttl=90)
    assert signin.with_token(short).expires_at == w.clock.now + timedelta(seconds=90)
    w.vault.revoke(short)
    with pytest.raises(AuthError):
        signin.with_token(short)


@pytest.mark.parametrize(("method", "user", "why"), [("ldap", "alice", "not offered"),
                                                    ("userpass", "a/b", "not a username"),
                                                    ("userpass", "..", "not a username"),
                                                    ("kerberos", "alice", "not offered")])
def test_a_password_sign_in_refuses_what_it_cannot_forward(w: World, method: str, user: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        w.uc.signin.with_password(method, user, "pw")


def test_token_sign_in_can_be_turned_off(w: World) -> None:
    off = SignIn(w.uc.signin.vault, w.vault, ConsoleSettings(token_signin=False), w.clock)
    with pytest.raises(ValidationError, match="not offered"):
        off.with_token(w.token["engineer"])
