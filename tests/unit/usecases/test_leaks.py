"""Leaked codes over the use cases: identify by keyed fingerprint, burn, and what neither ever keeps."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from custody.errors import Exhausted, NotFound, PermissionDenied, ValidationError
from tests.fakes import REASON, World, an_account, codes


def test_identify_names_the_account_and_whether_the_code_was_used(w: World) -> None:
    an_account(w)
    other = an_account(w, "pypi/other")
    eng, sec = w.token["engineer"], w.token["security"]
    g = w.uc.access.request(eng, "pypi/acme", REASON)
    w.uc.access.reveal(eng, g.id)
    record = w.kv.read("codes/pypi/acme")
    assert record is not None
    used = next(c["code"] for c in record.data["codes"] if c["grant_id"] == g.id)
    hit = w.uc.leaks.identify(sec, used.upper() + "\n")
    assert (hit["found"], hit["account"], hit["status"], hit["grant_id"]) == (True, "pypi/acme", "consumed", g.id)
    assert w.uc.leaks.identify(sec, other[3])["status"] == "unused"
    assert w.uc.leaks.identify(sec, "0" * 16) == {"found": False, "checked": 2, "account": None, "status": None}


def test_the_prints_follow_deposits_and_rotations_and_are_rebuilt_when_behind(w: World) -> None:
    an_account(w)
    sec = w.token["security"]
    record = w.kv.read("prints/pypi/acme")
    assert record is not None and len(record.data["prints"]) == 8 and record.data["generation"] == 1
    new = codes(8)
    w.uc.rotation.rotate(sec, "pypi/acme", "\n".join(new))
    assert w.kv.read("prints/pypi/acme").data["generation"] == 2  # type: ignore[union-attr]
    w.kv.delete_all("prints/pypi/acme")  # say the write after a deposit failed
    assert w.uc.leaks.identify(sec, new[5])["account"] == "pypi/acme"
    assert w.kv.read("prints/pypi/acme") is not None


def test_burn_never_hands_the_code_out_and_makes_rotation_overdue_at_once(w: World) -> None:
    deposited = an_account(w, n=2)
    sec, eng = w.token["security"], w.token["engineer"]
    burned = w.uc.leaks.burn(sec, "pypi/acme", deposited[0])
    assert (burned["status"], burned["remaining"], burned["reason"]) == ("burned", 1, "leaked code")
    due = w.uc.sweep.sweep(w.token["rotation"])["due"][0]
    assert due["overdue"] and [r["kind"] for r in due["reasons"]][:1] == ["leaked_code"]
    assert "leaked code" in due["reasons"][0]["message"]
    assert "revealed" not in [r["kind"] for r in due["reasons"]]  # a burned code is not a revealed one
    before = len(w.kv.writes())
    again = w.uc.leaks.burn(sec, "pypi/acme", deposited[0])
    assert again["status"] == "burned" and len(w.kv.writes()) == before  # burned twice: nothing more to write
    first = w.uc.access.reveal(eng, w.uc.access.request(eng, "pypi/acme", REASON).id)
    assert first.remaining == 0
    with pytest.raises(Exhausted, match="no codes left"):
        w.uc.access.request(eng, "pypi/acme", REASON)
    assert w.uc.leaks.identify(sec, deposited[0])["status"] == "burned"


@pytest.mark.parametrize(("text", "error", "message"), [
    ("", ValidationError, "no code given"),
    ("hello world", ValidationError, "not a (recovery )?code"),
    ("0123456789abcdef\nfedcba9876543210", ValidationError, "one code at a time"),
])
def test_a_non_code_is_refused_and_changes_nothing(w: World, text: str, error: type, message: str) -> None:
    an_account(w)
    before = len(w.kv.writes())
    with pytest.raises(error, match=message):
        w.uc.leaks.identify(w.token["security"], text)
    with pytest.raises(error, match=message):
        w.uc.leaks.burn(w.token["security"], "pypi/acme", text)
    assert len(w.kv.writes()) == before


def test_burning_a_code_the_account_does_not_hold_changes_nothing(w: World) -> None:
    an_account(w)
    other = an_account(w, "pypi/other")
    before = len(w.kv.writes())
    with pytest.raises(NotFound, match="not in pypi/acme's current set; nothing was changed"):
        w.uc.leaks.burn(w.token["security"], "pypi/acme", other[0])
    with pytest.raises(NotFound, match="unknown account pypi/nope"):
        w.uc.leaks.burn(w.token["security"], "pypi/nope", other[0])
    assert len(w.kv.writes()) == before


def test_only_the_security_team_and_the_code_is_never_kept(w: World) -> None:
    deposited = an_account(w)
    for name in ("engineer", "approver", "auditor", "rotation"):
        with pytest.raises(PermissionDenied):
            w.uc.leaks.identify(w.token[name], deposited[0])
        with pytest.raises(PermissionDenied):
            w.uc.leaks.burn(w.token[name], "pypi/acme", deposited[0])
    with capture_logs() as logs:
        w.uc.leaks.identify(w.token["security"], deposited[1])
        w.uc.leaks.burn(w.token["security"], "pypi/acme", deposited[1])
    assert logs and not any(deposited[1] in repr(entry) for entry in logs)
    written = [w.kv.read(p) for _, p in w.kv.writes() if not p.startswith("codes/")]
    assert not any(deposited[1] in repr(e.data) for e in written if e is not None)
    assert not any(deposited[1] in repr(n) for n in w.notices.events)
