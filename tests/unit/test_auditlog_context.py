"""The correlation's shared accumulators and time arithmetic: the short cuts they take give the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.auditlog import context
from custody.auditlog.context import Principals
from custody.auditlog.facts import Who
from custody.auditlog.reveals import micros
from custody.auditlog.timeparse import norm_time, to_dt

TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 12, 31), timezones=st.just(UTC))


def _norm(dt: datetime, nanos: int) -> str:
    return norm_time(dt.isoformat().replace("+00:00", "")[:19] + f".{dt.microsecond:06d}{nanos:03d}Z")


@given(TIMES, TIMES, st.integers(0, 999), st.integers(0, 999))
def test_micros_differ_as_the_datetimes_do(a: datetime, b: datetime, na: int, nb: int) -> None:
    ta, tb = _norm(a, na), _norm(b, nb)
    assert micros(ta) - micros(tb) == (to_dt(ta) - to_dt(tb)) // timedelta(microseconds=1)


def test_a_principal_seen_again_keeps_its_row_and_names() -> None:
    ps = Principals()
    alice, alice_too = Who("e-1", "userpass-alice"), Who("e-1", "oidc-alice")
    row = ps.get(alice)
    assert row is not None and ps.get(alice) is row and ps.get(alice_too) is row
    assert row.names == {"userpass-alice", "oidc-alice"}
    assert ps.get(Who("", "")) is None


def test_past_the_listed_principals_a_principal_seen_again_is_still_counted_as_unlisted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "LISTED_PRINCIPALS", 1)
    ps = Principals()
    listed = ps.get(Who("e-1", "a"))
    other = Who("e-2", "b")
    assert ps.get(other) is ps.others and ps.get(other) is ps.others
    assert ps.get(Who("e-1", "a")) is listed
    got = ps.unlisted()
    assert got is not None and got.count == 1


def test_the_memo_of_rows_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "WHO_ROWS", 5)
    ps = Principals()
    for i in range(50):  # one entity under many names: one row, and the memo stops at its bound
        assert ps.get(Who("e-1", f"name-{i}")) is ps.by_key["e-1"]
    assert len(ps.memo) == 5
    assert len(ps.by_key["e-1"].names) == 16
