"""Due rules and the code-set summary, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain.models import CodeSet
from custody.domain.rotation import (
    INTERRUPTED_AFTER,
    CodesFacts,
    DueKind,
    OpenRotation,
    RotationPolicy,
    Summary,
    assess,
    codeset_facts,
    destroyable_versions,
    low_since,
    project,
    set_digest,
    summary_from_metadata,
    summary_of,
    summary_to_metadata,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RotationPolicy(max_age=timedelta(days=365), min_remaining=3, grace=timedelta(days=30))


def facts(total: int = 8, used: list[int] | None = None, deposited: datetime = T0) -> CodesFacts:
    times = tuple(sorted(T0 + timedelta(days=d) for d in used or []))
    return CodesFacts(total, total - len(times), deposited, 1, times)


def kinds(a: object) -> set[str]:
    return {r.kind.value for r in a.reasons}  # type: ignore[attr-defined]


def test_fresh_set_is_not_due_and_says_when_it_will_be() -> None:
    a = assess(facts(), POLICY, T0 + timedelta(days=10), T0)
    assert not a.due and not a.overdue
    assert a.next_due_at == T0 + timedelta(days=365) and a.overdue_at == T0 + timedelta(days=395)


def test_age_due_then_overdue() -> None:
    assert kinds(assess(facts(), POLICY, T0 + timedelta(days=365), T0)) == {"max_age"}
    assert not assess(facts(), POLICY, T0 + timedelta(days=395), T0).overdue
    assert assess(facts(), POLICY, T0 + timedelta(days=395, seconds=1), T0).overdue


def test_reveals_and_low_remaining_with_their_start_times() -> None:
    a = assess(facts(used=[5]), POLICY, T0 + timedelta(days=6), T0)
    assert kinds(a) == {"revealed"} and a.next_due_at == T0 + timedelta(days=5)
    a = assess(facts(used=[5, 6, 7, 8, 9]), POLICY, T0 + timedelta(days=10), T0)
    assert kinds(a) == {"revealed", "low_remaining"}
    low = next(r for r in a.reasons if r.kind is DueKind.low_remaining)
    assert low.since == T0 + timedelta(days=9) and "3 codes remaining (threshold 3)" in low.message
    assert assess(facts(used=[5]), POLICY, T0 + timedelta(days=35, seconds=1), T0).overdue


def test_small_set_is_low_from_deposit() -> None:
    assert low_since(facts(total=2), 3) == T0
    assert low_since(facts(total=8), 3) is None


def test_no_codes_due_since_the_account_was_registered() -> None:
    a = assess(None, POLICY, T0 + timedelta(days=1), T0)
    assert kinds(a) == {"no_codes"} and a.next_due_at == T0 and not a.overdue
    assert assess(None, POLICY, T0 + timedelta(days=31), T0).overdue


def test_open_rotation_is_interrupted_after_a_while_and_overdue_at_once() -> None:
    rot = OpenRotation(1, T0, "userpass-security")
    young = assess(facts(), POLICY, T0 + timedelta(minutes=1), T0, rot)
    assert not young.due and young.next_due_at == T0 + INTERRUPTED_AFTER
    old = assess(facts(), POLICY, T0 + INTERRUPTED_AFTER, T0, rot)
    assert kinds(old) == {"interrupted"} and old.overdue and old.interrupted == rot


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="max_age"):
        RotationPolicy(max_age=timedelta(0))
    with pytest.raises(ValueError, match="min_remaining"):
        RotationPolicy(min_remaining=-1)


def test_codeset_facts_orders_reveal_times() -> None:
    cs = CodeSet.new("pypi/a", [f"{i:016x}" for i in range(4)], "me", T0)
    codes = list(cs.codes)
    codes[2] = codes[2].model_copy(update={"consumed_at": T0 + timedelta(days=2)})
    codes[0] = codes[0].model_copy(update={"consumed_at": T0 + timedelta(days=5)})
    f = codeset_facts(cs.model_copy(update={"codes": tuple(codes)}))
    assert f.remaining == 2 and f.consumed_times == (T0 + timedelta(days=2), T0 + timedelta(days=5))


def _versions(first: int, last: int) -> dict[str, dict[str, str]]:
    return {str(v): {"created_time": (T0 + timedelta(hours=v)).isoformat().replace("+00:00", "Z")}
            for v in range(first, last + 1)}


def test_summary_round_trip_and_projection_of_later_reveals() -> None:
    s = summary_of(facts(used=[1]), version=4)
    custom = summary_to_metadata(s)
    assert custom is not None and all(isinstance(v, str) and v for v in custom.values())
    back = summary_from_metadata(custom)
    assert back == s
    now = project(s, 6, _versions(1, 6))
    assert now is not None and now.remaining == 5 and len(now.consumed_times) == 3
    assert T0 + timedelta(hours=6) in now.consumed_times


@pytest.mark.parametrize(
    ("current", "versions"),
    [(3, _versions(1, 3)),  # fewer versions than the summary describes
     (20, _versions(1, 20)),  # more reveals than codes left
     (6, _versions(1, 5))],  # a version's time is missing (pruned)
)
def test_projection_refuses_what_it_cannot_trust(current: int, versions: dict[str, dict[str, str]]) -> None:
    assert project(summary_of(facts(), version=4), current, versions) is None


def test_stale_and_foreign_metadata_are_not_summaries() -> None:
    stale = summary_to_metadata(Summary("stale", stale_since=T0))
    assert stale is not None
    parsed = summary_from_metadata(stale)
    assert parsed is not None and parsed.state == "stale" and project(parsed, 1, {}) is None
    assert summary_from_metadata({"owner": "someone"}) is None
    assert summary_from_metadata({"custody_summary": "1", "state": "fresh", "version": "x"}) is None


@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 12))
def test_projection_never_overstates_remaining(total: int, used_before: int, later: int) -> None:
    used_before = min(used_before, total)
    s = summary_of(facts(total=total, used=list(range(used_before))), version=3)
    projected = project(s, 3 + later, _versions(1, 3 + later))
    true_remaining_at_most = max(total - used_before - later, 0)  # each later version consumed at most... one
    if projected is not None:
        assert projected.remaining <= total - used_before
        assert projected.remaining == true_remaining_at_most


def test_destroyable_versions_and_set_digest() -> None:
    versions = {"1": {"destroyed": True}, "2": {"destroyed": False}, "3": {}, "4": {}}
    assert destroyable_versions(versions, 4) == [2, 3]
    assert set_digest(["fp-b", "fp-a"]) == set_digest(["fp-a", "fp-b"]) != set_digest(["fp-a"])
