"""The key roster's use cases: who may do what, the custodian's own verification, bad input changes nothing."""

from __future__ import annotations

import pytest

from custody.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.fakes import World, an_account


def two_keys(w: World, account: str = "pypi/acme") -> None:
    sec = w.token["security"]
    w.uc.keys.add(sec, account, "Engineer's key", "engineer@acme.example", "1111", model="YubiKey 5C")
    w.uc.keys.add(sec, account, "Spare", "approver@acme.example", "2222", location="safe")


def verdict(w: World, account: str = "pypi/acme") -> dict:
    return next(a for a in w.uc.keys.check(w.token["auditor"])["accounts"] if a["account"] == account)


def test_a_roster_becomes_ok_once_each_custodian_has_verified_their_key(w: World) -> None:
    an_account(w)
    two_keys(w)
    assert [p["kind"] for p in verdict(w)["problems"]] == ["unverified", "unverified"]
    w.uc.keys.verify(w.token["engineer"], "pypi/acme", "Engineer's key")
    roster = w.uc.keys.verify(w.token["approver"], "pypi/acme", "Spare")
    assert [(k.verified_by, k.verified_at) for k in roster.keys] == [
        ("userpass-engineer", w.clock.now), ("userpass-approver", w.clock.now)]
    assert w.uc.keys.check(w.token["rotation"]) == w.uc.keys.check(w.token["auditor"])
    checked = w.uc.keys.check(w.token["security"])
    assert checked["ok"] and checked["not_ok"] == [] and verdict(w)["distinct_tokens"] == 2
    assert w.kv.read("keys/pypi/acme").data["event"] == "key.verified"  # type: ignore[union-attr]


def test_someone_else_cannot_verify_a_custodians_key(w: World) -> None:
    an_account(w)
    two_keys(w)
    before = len(w.kv.writes())
    with pytest.raises(PermissionDenied, match="only the key's custodian"):
        w.uc.keys.verify(w.token["security"], "pypi/acme", "Engineer's key")
    with pytest.raises(PermissionDenied, match="update on custody/accounts/pypi/acme/keys/verify"):
        w.uc.keys.verify(w.token["auditor"], "pypi/acme", "Engineer's key")  # no policy for it: refused, recorded
    assert [op for op, path in w.kv.writes()[before:] if not path.startswith("denied/")] == []
    nobody = w.vault.add("mystery", ("custody-requester",), email=None)
    with pytest.raises(PermissionDenied, match="does not know your email"):
        w.uc.keys.verify(nobody, "pypi/acme", "Engineer's key")


def test_only_the_security_team_keeps_the_roster(w: World) -> None:
    an_account(w)
    for name in ("engineer", "approver", "auditor", "rotation"):
        with pytest.raises(PermissionDenied):
            w.uc.keys.add(w.token[name], "pypi/acme", "k", "engineer@acme.example", "1")
    two_keys(w)
    with pytest.raises(PermissionDenied):
        w.uc.keys.remove(w.token["engineer"], "pypi/acme", "Spare", "lost it on a train")
    assert [k.label for k in w.uc.keys.roster(w.token["auditor"], "pypi/acme").keys] == ["Engineer's key", "Spare"]


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"account_id": "pypi/nope"}, NotFound, "unknown account pypi/nope"),
    ({"label": "Spare"}, Conflict, "already has a key labelled 'Spare'"),
    ({"label": "x" * 65}, ValidationError, "PyPI allows at most 64"),
    ({"serial": "9999"}, Conflict, "already registered on pypi/other"),
    ({"custodian": "not-an-email"}, ValidationError, "not an email address"),
])
def test_bad_keys_are_refused_and_change_nothing(w: World, kw: dict, error: type, message: str) -> None:
    an_account(w)
    an_account(w, "pypi/other")
    two_keys(w)
    w.uc.keys.add(w.token["security"], "pypi/other", "Other's", "auditor@acme.example", "99-99")
    before = len(w.kv.writes())
    args = {"account_id": "pypi/acme", "label": "New", "custodian": "engineer@acme.example", "serial": "3333"} | kw
    with pytest.raises(error, match=message):
        w.uc.keys.add(w.token["security"], **args)
    assert len(w.kv.writes()) == before


def test_a_shared_token_is_accepted_on_purpose_and_warned_about_on_both_accounts(w: World) -> None:
    an_account(w)
    an_account(w, "pypi/other")
    two_keys(w)
    w.uc.keys.add(w.token["security"], "pypi/other", "Same token", "engineer@acme.example", "1111", shared=True)
    shared = [p for a in w.uc.keys.check(w.token["auditor"])["accounts"] for p in a["problems"]
              if p["kind"] == "shared_token"]
    assert len(shared) == 2 and all(p["severity"] == "warning" for p in shared)


def test_remove_and_reassign_need_a_reason_and_name_a_key_that_exists(w: World) -> None:
    an_account(w)
    two_keys(w)
    sec = w.token["security"]
    before = len(w.kv.writes())
    with pytest.raises(NotFound, match="no key labelled 'Nope'"):
        w.uc.keys.remove(sec, "pypi/acme", "Nope", "lost it on a train")
    with pytest.raises(ValidationError, match="reason"):
        w.uc.keys.remove(sec, "pypi/acme", "Spare", "")
    with pytest.raises(Conflict, match="already holds"):
        w.uc.keys.reassign(sec, "pypi/acme", "Spare", "approver@acme.example", "handed over at the office")
    assert len(w.kv.writes()) == before
    roster = w.uc.keys.reassign(sec, "pypi/acme", "Spare", "security@acme.example", "handed over at the office")
    assert roster.find("Spare").custodian == "security@acme.example" and roster.find("Spare").verified_at is None
    roster = w.uc.keys.remove(sec, "pypi/acme", "Spare", "the token broke")
    assert [k.label for k in roster.keys] == ["Engineer's key"] and roster.removed[0].reason == "the token broke"
    assert verdict(w)["problems"][0]["kind"] == "one_key"


def test_an_account_without_a_roster_is_checked_too(w: World) -> None:
    an_account(w)
    checked = w.uc.keys.check(w.token["security"])
    assert checked["not_ok"] == ["pypi/acme"] and checked["accounts"][0]["problems"][0]["kind"] == "no_keys"
