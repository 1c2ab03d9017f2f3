"""The correlation's shared accumulators and time arithmetic: the short cuts they take give the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.auditlog import context
from custody.auditlog.context import Principals
from custody.auditlog.facts import Who
from custody.auditlog.model import Anomaly, AnomalyKind, Principal, Severity
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


ANOMALIES = st.lists(
    st.tuples(st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["r1", "r2"]), st.sampled_from(["", "g"]),
              st.integers(0, 3)),
    max_size=40,
)


@given(ANOMALIES)
def test_a_group_lists_the_earliest_and_counts_all_whatever_it_skips_building(
    rows: list[tuple[str, str, str, int]],
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "LISTED_PER_GROUP", 3)
        g = context.Group()
        for n, (time, request_id, grant_id, who) in enumerate(rows):
            g.count(time, Who(f"e-{who}", ""))
            if g.may_list(time, request_id, grant_id):
                g.add_listed(Anomaly(kind=AnomalyKind.UNWRAP_FAILED, severity=Severity.HIGH, time=time,
                                     principal=Principal(), path="p", detail=str(n), why="", request_id=request_id,
                                     grant_id=grant_id))
        kept = [(a.time, a.request_id, a.grant_id, int(a.detail)) for a in g.keep()]
    # all of them, in order (ties: first counted first), and the first three
    want = sorted((time, request_id, grant_id, n) for n, (time, request_id, grant_id, _) in enumerate(rows))[:3]
    assert kept == want
    assert g.total == len(rows) and sum(g.offenders.counts.values()) == len(rows)
