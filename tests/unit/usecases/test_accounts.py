"""Accounts: register, show, list; who may; what is refused, with a hint, and changes nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from custody.errors import Conflict, NotFound, PermissionDenied, StoreError, ValidationError
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


def test_concurrent_creations_in_different_cases_make_one_account(w: World) -> None:
    """Every creation that gets as far as writing its account waits there until all the others have too (or have
    given up): without the claim on the case-folded name, all eight would write an account."""
    names = ["pypi/Racey", "pypi/racey", "pypi/RACEY", "pypi/rAcey", "pypi/raCey", "pypi/racEy", "pypi/raceY",
             "pypi/RaceY"]
    turn = threading.Condition()
    state = {"writing": 0, "done": 0}

    def hold_account_writes(op: str, path: str) -> None:
        if op == "write" and path.startswith("accounts/pypi/"):
            with turn:
                state["writing"] += 1
                turn.notify_all()
                assert turn.wait_for(lambda: state["writing"] + state["done"] == len(names), timeout=5), state

    w.kv.before.append(hold_account_writes)

    def create(name: str) -> str:
        try:
            return w.uc.accounts.add(w.token["security"], name, "o@example.com").id
        except Conflict as exc:
            return exc.message
        finally:
            with turn:
                state["done"] += 1
                turn.notify_all()

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        outcomes = list(pool.map(create, names))
    created = [o for o in outcomes if o in names]
    assert len(created) == 1 and w.kv.list_keys("accounts/pypi/") == [created[0].split("/")[1]]
    assert all("usernames differ only in case" in o for o in outcomes if o not in names), outcomes


def test_accounts_registered_before_names_were_claimed_still_keep_their_name(w: World) -> None:
    w.kv.write("accounts/pypi/Old", {"account": "pypi/Old", "owner": "o@example.com", "tier": "standard",
                                     "approvals_required": 0, "created_by": "x"}, cas=0)
    with pytest.raises(Conflict, match="account pypi/Old already exists") as caught:
        w.uc.accounts.add(w.token["security"], "pypi/old", "o@example.com")
    assert caught.value.hint == "use pypi/Old"
    claim = w.kv.read("account-names/pypi/old")
    assert claim is not None and claim.data["account"] == "pypi/Old"  # from now on the claim names the old one


def test_a_creation_interrupted_after_its_claim_can_be_finished(w: World) -> None:
    def lost(op: str, path: str) -> None:
        if op == "write" and path == "accounts/pypi/Half":
            raise StoreError("Vault is unreachable (test)")

    w.kv.before.append(lost)
    with pytest.raises(StoreError):
        w.uc.accounts.add(w.token["security"], "pypi/Half", "o@example.com")
    w.kv.before.remove(lost)
    with pytest.raises(Conflict, match="pypi/Half is being created, or its creation was interrupted") as caught:
        w.uc.accounts.add(w.token["security"], "pypi/half", "o@example.com")
    assert caught.value.hint == "create it as pypi/Half"
    assert w.uc.accounts.add(w.token["security"], "pypi/Half", "o@example.com").id == "pypi/Half"


@pytest.mark.parametrize(("asked", "suggested"), [
    ("pypi/acme-publisher", []), ("pypi/Acme-Publisher", ["pypi/acme-publisher"]),
    ("pypi/acme-publsher", ["pypi/acme-publisher"]), ("pypi/acme-pub1isher", ["pypi/acme-publisher"]),
    ("pypi/zebra", []), ("pypi/acme-bot2", ["pypi/acme-bot", "pypi/acme-boy"]),
])
def test_unknown_accounts_suggest_the_close_ones(w: World, asked: str, suggested: list[str]) -> None:
    for name in ("pypi/acme-publisher", "pypi/acme-bot", "pypi/acme-boy", "generic/acme-bot2"):
        w.uc.accounts.add(w.token["security"], name, "o@example.com")
    if not suggested:
        asked = asked if asked != "pypi/acme-publisher" else "pypi/unrelated"
    assert w.uc.accounts.suggest(w.token["engineer"], asked) == suggested


def test_no_suggestion_for_a_caller_who_may_not_list_accounts(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/Hidden", "o@example.com")
    reader = w.vault.add("reader", rules=(("custody/accounts/+/+", {"read"}),))
    with pytest.raises(NotFound, match="unknown account pypi/hidden"):
        w.uc.accounts.get(reader, "pypi/hidden")
    assert w.uc.accounts.suggest(reader, "pypi/hidden") == []
    assert w.uc.accounts.suggest(w.token["auditor"], "pypi/hidden") == ["pypi/Hidden"]
