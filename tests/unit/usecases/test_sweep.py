"""The rotation sweep: due reasons and overdue, read from each set's summary; and its write form, which writes
down the expiry of grants past their time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custody.errors import PermissionDenied, ValidationError
from tests.fakes import REASON, World, an_account, codes


def due(w: World, account: str = "pypi/acme", **kw: object) -> dict | None:
    result = w.uc.sweep.sweep(w.token["security"], **kw)  # type: ignore[arg-type]
    return next((d for d in result["due"] if d["account"] == account), None)


def test_a_fresh_set_is_not_due_until_it_is_old_then_overdue_after_the_grace(w: World) -> None:
    an_account(w)
    assert due(w) is None
    w.clock.advance(days=365)
    row = due(w)
    assert row is not None and [r["kind"] for r in row["reasons"]] == ["max_age"] and not row["overdue"]
    assert due(w, max_age="400d") is None
    w.clock.advance(days=30, seconds=1)
    result = w.uc.sweep.sweep(w.token["rotation"])
    assert result["overdue"] == ["pypi/acme"] and result["read_from"] == {"summary": 1}
    assert result["policy"] == {"max_age": "365d", "min_remaining": 3, "grace": "30d"}
    assert w.notices.names()[-1] == "rotation.overdue"


def test_reveals_and_few_codes_left_make_an_account_due(w: World) -> None:
    an_account(w, n=5)
    for _ in range(2):
        g = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON)
        w.uc.access.reveal(w.token["engineer"], g.id)
    row = due(w)
    assert row is not None and {r["kind"] for r in row["reasons"]} == {"revealed", "low_remaining"}
    assert (row["remaining"], row["total"]) == (3, 5)
    row = due(w, min_remaining=2)
    assert row is not None and [r["kind"] for r in row["reasons"]] == ["revealed"]


def test_an_account_without_codes_and_an_interrupted_rotation_are_due(w: World) -> None:
    w.uc.accounts.add(w.token["security"], "pypi/empty", "o@example.com")
    an_account(w)

    def crash(step: str) -> None:
        if step == "stored":
            raise RuntimeError(step)

    with pytest.raises(RuntimeError):
        replace(w.uc.rotation, after_step=crash).rotate(w.token["security"], "pypi/acme", "\n".join(codes()))
    empty = due(w, "pypi/empty")
    assert empty is not None and [r["kind"] for r in empty["reasons"]] == ["no_codes"]
    assert due(w) is None  # open for less than 15 minutes: probably still running
    w.clock.advance(minutes=16)
    row = due(w)
    assert row is not None and row["overdue"] and row["interrupted_rotation"]["rotation"] == 1


def test_a_set_deleted_outside_custody_is_due(w: World) -> None:
    an_account(w)
    w.kv.soft_delete("codes/pypi/acme")
    w.clock.advance(seconds=1)
    row = due(w)
    assert row is not None and [r["kind"] for r in row["reasons"]] == ["no_codes"]


def test_a_missing_summary_is_read_from_the_set_and_healed(w: World) -> None:
    an_account(w)
    meta = w.kv.metadata("codes/pypi/acme")
    assert meta is not None
    w.kv.write_custom_metadata("codes/pypi/acme", {"note": "someone else's"}, meta["current_metadata_version"])
    assert w.uc.sweep.sweep(w.token["security"])["read_from"] == {"codes": 1}
    assert w.uc.sweep.sweep(w.token["security"])["read_from"] == {"summary": 1}


def test_the_write_form_records_expired_grants_once(w: World) -> None:
    an_account(w, tier="critical")
    stale = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ttl="1h")
    fresh = w.uc.access.request(w.token["engineer"], "pypi/acme", REASON, ttl="3h")
    w.clock.advance(hours=2)
    result = w.uc.sweep.sweep_and_expire(w.token["security"])
    assert result["expired_grants"] == [stale.id] and "due" in result
    record = w.kv.read(f"grants/{stale.id}")
    assert record is not None and (record.data["status"], record.data["event"], record.data["actor"]) == (
        "expired", "grant.expired", "userpass-security")
    other = w.kv.read(f"grants/{fresh.id}")
    assert other is not None and other.data["status"] == "pending"
    assert w.uc.sweep.sweep_and_expire(w.token["security"])["expired_grants"] == []


def test_who_may_sweep_and_bad_options(w: World) -> None:
    with pytest.raises(PermissionDenied, match="read on custody/rotation/sweep"):
        w.uc.sweep.sweep(w.token["engineer"])
    reader = w.vault.add("reader", rules=(("custody/rotation/sweep", {"read"}),))
    assert w.uc.sweep.sweep(reader)["checked"] == 0
    with pytest.raises(PermissionDenied, match="update on custody/rotation/sweep"):
        w.uc.sweep.sweep_and_expire(reader)
    with pytest.raises(ValidationError, match="not a duration"):
        w.uc.sweep.sweep(w.token["security"], max_age="soon")
