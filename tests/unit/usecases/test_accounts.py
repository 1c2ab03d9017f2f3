"""Accounts: register, show, list; who may; what is refused, with a hint, and changes nothing."""

from __future__ import annotations

import pytest

from custody.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.fakes import World


def test_the_security_team_registers_an_account(w: World) -> None:
    account = w.uc.accounts.add(w.token["security"], "pypi/acme", "Owner@Example.com", tier="critical")
    assert (account.owner, account.approvals_required, account.created_by) == (
        "owner@example.com", 2, "userpass-security")
    record = w.kv.read("accounts/pypi/acme")
    assert record is not None and record.data["event"] == "account.created"
    assert record.data["actor_entity"] == "entity-security" and record.data["account"] == "pypi/acme"
    assert w.uc.accounts.get(w.token["engineer"], "pypi/acme") == account
    assert [a.id for a in w.uc.accounts.all(w.token["auditor"])] == ["pypi/acme"]


@pytest.mark.parametrize(("args", "error", "message"), [
    (("pypi/acme", "not-an-email"), ValidationError, "owner: Value error, owner must be an email address"),
    (("pypi/acme", "o@example.com", "gold"), ValidationError, "unknown tier 'gold'"),
    (("pypi/acme", "o@example.com", "critical", 0), ValidationError, "needs at least one approval"),
    (("pypi/", "o@example.com"), ValidationError, "pypi/"),
    (("nowhere/acme", "o@example.com"), NotFound, "unknown platform"),
])
def test_bad_accounts_are_refused_and_nothing_is_written(w: World, args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        w.uc.accounts.add(w.token["security"], *args)
    assert w.kv.writes() == []


def test_one_account_per_username_whatever_its_case(w: World) -> None:
    sec = w.token["security"]
    w.uc.accounts.add(sec, "pypi/Acme", "o@example.com")
    with pytest.raises(Conflict, match="usernames differ only in case") as caught:
        w.uc.accounts.add(sec, "pypi/acme", "o@example.com")
    assert caught.value.hint == "use pypi/Acme"
    with pytest.raises(Conflict, match="already exists"):
        w.uc.accounts.add(sec, "pypi/Acme", "other@example.com")
    assert w.uc.accounts.get(sec, "pypi/Acme").owner == "o@example.com"


def test_only_the_security_team_registers_and_refusals_are_recorded(w: World) -> None:
    for name in ("engineer", "approver", "auditor"):
        with pytest.raises(PermissionDenied, match="create on custody/accounts/pypi/acme") as caught:
            w.uc.accounts.add(w.token[name], "pypi/acme", "o@example.com")
        assert "custody-security" in (caught.value.hint or "")
    assert [(d["actor"], d["path"], d["capability"]) for d in w.denials()] == [
        (f"userpass-{n}", "custody/accounts/pypi/acme", "create") for n in ("engineer", "approver", "auditor")]
    assert w.kv.read("accounts/pypi/acme") is None


def test_unknown_accounts(w: World) -> None:
    with pytest.raises(NotFound, match="unknown account pypi/nobody") as caught:
        w.uc.accounts.get(w.token["security"], "pypi/nobody")
    assert caught.value.hint == "see `custody accounts list`"
