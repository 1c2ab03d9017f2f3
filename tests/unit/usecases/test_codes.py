"""Deposits and code status: a second deposit needs --replace, a code handed out stays handed out, a set deleted
outside custody is never silently replaced, and the sweep's summary stays true."""

from __future__ import annotations

import pytest

from custody.domain.models import GrantStatus
from custody.errors import CasConflict, Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError
from tests.fakes import REASON, World, an_account, codes


def test_a_deposit_stores_the_set_and_its_summary(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com")
    deposited = codes(7)
    row = w.uc.codes.deposit(w.token["security"], "pypi/acme", "\n".join(c.upper() for c in deposited))
    assert (row["total"], row["remaining"], row["generation"], row["deposited_by"]) == (7, 7, 1, "userpass-security")
    assert row["rotation_due"] is False and row["interrupted_rotation"] is None
    record = w.kv.read("codes/pypi/acme")
    assert record is not None and record.data["event"] == "codes.deposited"
    assert sorted(c["code"] for c in record.data["codes"]) == sorted(deposited)
    facts, source = w.uc.ctx.repo.codes.facts("pypi/acme", w.clock())
    assert source == "summary" and facts is not None and (facts.total, facts.remaining) == (7, 7)
    assert not any(c in str(row) for c in deposited)


def test_a_second_deposit_needs_replace_which_keeps_handed_out_codes_handed_out(w: World) -> None:
    sec, eng = w.token["security"], w.token["engineer"]
    deposited = an_account(w, n=4)
    with pytest.raises(Conflict, match="already has codes deposited") as caught:
        w.uc.codes.deposit(sec, "pypi/acme", "\n".join(codes(4)))
    assert "--replace" in (caught.value.hint or "")
    grant = w.uc.access.request(eng, "pypi/acme", REASON)
    first = w.kv.unwrap(w.uc.access.reveal(eng, grant.id).wrap.token)["code"]
    row = w.uc.codes.deposit(sec, "pypi/acme", "\n".join(deposited), replace=True)  # the same file again
    assert (row["remaining"], row["consumed"], row["generation"]) == (3, 1, 2)
    handed = set()
    for _ in range(3):
        g = w.uc.access.request(eng, "pypi/acme", REASON)
        handed.add(w.kv.unwrap(w.uc.access.reveal(eng, g.id).wrap.token)["code"])
    assert first not in handed and handed | {first} == set(deposited)


def test_a_set_deleted_outside_custody_is_not_replaced_by_a_deposit(w: World) -> None:
    an_account(w)
    w.kv.soft_delete("codes/pypi/acme")
    before = len(w.kv.writes())
    with pytest.raises(PreconditionFailed, match=r"\(version 1\) was deleted outside custody") as caught:
        w.uc.codes.deposit(w.token["security"], "pypi/acme", "\n".join(codes()), replace=True)
    assert "bao kv undelete -versions=1 custody-kv/codes/pypi/acme" in (caught.value.hint or "")
    assert len(w.kv.writes()) == before


def test_a_deposit_that_loses_a_race_changes_nothing(w: World) -> None:
    """Two security engineers replacing the same set at once: one wins, the other is told to retry."""
    an_account(w)
    sec = w.token["security"]

    def competing() -> None:
        w.uc.codes.deposit(sec, "pypi/acme", "\n".join(codes(5)), replace=True)

    w.kv.after_once("read", "codes/pypi/acme", competing)
    with pytest.raises(CasConflict):
        w.uc.codes.deposit(sec, "pypi/acme", "\n".join(codes(6)), replace=True)
    status = w.uc.codes.status(sec, "pypi/acme")[0]
    assert (status["total"], status["generation"]) == (5, 2)
    # The loser had marked the summary stale before its write: the sweep reads the set itself, never a wrong count.
    facts, source = w.uc.ctx.repo.codes.facts("pypi/acme", w.clock())
    assert source == "codes" and facts is not None and facts.total == 5


@pytest.mark.parametrize(("text", "message"), [
    ("", "no codes given"), ("0123456789abcdeg", "malformed PyPI recovery code"),
    ("\n".join(["0123456789abcdef"] * 2), "duplicate code"),
])
def test_bad_sets_are_refused(w: World, text: str, message: str) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/acme", "o@example.com")
    with pytest.raises(ValidationError, match=message):
        w.uc.codes.deposit(w.token["security"], "pypi/acme", text)
    assert w.kv.read("codes/pypi/acme") is None


def test_who_may_deposit_and_read_status(w: World) -> None:
    an_account(w)
    with pytest.raises(PermissionDenied, match="update on custody/accounts/pypi/acme/codes"):
        w.uc.codes.deposit(w.token["engineer"], "pypi/acme", "\n".join(codes()), replace=True)
    with pytest.raises(NotFound, match="unknown account"):
        w.uc.codes.deposit(w.token["security"], "pypi/other", "\n".join(codes()))
    assert [r["account"] for r in w.uc.codes.status(w.token["auditor"])] == ["pypi/acme"]
    with pytest.raises(PermissionDenied, match="list on custody/codes"):
        w.uc.codes.status(w.token["engineer"])


def test_a_replacement_revokes_the_grants_opened_for_the_old_codes_and_says_so(w: World) -> None:
    """Grants approved before a `--replace` could never take a code again, yet stayed approved: they are revoked
    as a rotation revokes them, and named in the replacement's evidence."""
    sec, eng = w.token["security"], w.token["engineer"]
    an_account(w)
    approved = w.uc.access.request(eng, "pypi/acme", REASON)
    revealed = w.uc.access.request(w.token["engineer2"], "pypi/acme", REASON)
    w.uc.access.reveal(w.token["engineer2"], revealed.id)
    row = w.uc.codes.deposit(sec, "pypi/acme", "\n".join(codes()), replace=True)
    assert row["revoked_grants"] == [approved.id] and row["generation"] == 2
    shown = w.uc.access.show(eng, approved.id)
    assert (shown.status, shown.revoked_reason) == (GrantStatus.revoked, "codes replaced")
    assert w.uc.access.show(sec, revealed.id).status is GrantStatus.revealed
    with pytest.raises(PreconditionFailed, match=r"is revoked \(codes replaced\); it cannot be revealed") as refused:
        w.uc.access.reveal(eng, approved.id)
    assert refused.value.hint == "request a new grant"
    evidence = w.kv.read("replacements/pypi/acme/2")
    assert evidence is not None and (evidence.data["event"], evidence.data["status"], evidence.data["actor"]) == (
        "codes.replaced", "completed", "userpass-security")
    assert evidence.data["revoked_grants"] == [approved.id] and evidence.data["revoked_count"] == 1
    assert evidence.version == 2  # named before revoking, then what was revoked
    revocation = next(e for e in w.notices.events if e["event"] == "grant.revoked")
    assert revocation["grant_id"] == approved.id
    assert w.notices.events[-1]["event"] == "codes.replaced"
    assert w.notices.events[-1]["revoked_grants"] == [approved.id]
