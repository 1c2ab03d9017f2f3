"""Rotation marks (a leaked code, a person who left) in the due rules, and burned codes in the sweep's summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.rotation import (
    CodesFacts,
    DueKind,
    RotationMark,
    RotationPolicy,
    assess,
    project,
    summary_from_metadata,
    summary_of,
    summary_to_metadata,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RotationPolicy(max_age=timedelta(days=365), min_remaining=3, grace=timedelta(days=30))
FRESH = CodesFacts(8, 8, T0, 2)


def mark(kind: DueKind, generation: int = 2) -> RotationMark:
    return RotationMark(kind, f"{kind.value} reason", T0 + timedelta(days=1), generation, f"src:{kind.value}")


def test_a_leaked_code_is_overdue_at_once_and_a_leaver_after_the_grace() -> None:
    now = T0 + timedelta(days=2)
    leak = assess(FRESH, POLICY, now, T0, marks=[mark(DueKind.leaked_code)])
    assert [r.kind for r in leak.reasons] == [DueKind.leaked_code] and leak.overdue
    left = assess(FRESH, POLICY, now, T0, marks=[mark(DueKind.person_left)])
    assert left.due and not left.overdue and left.overdue_at == T0 + timedelta(days=31)
    assert assess(FRESH, POLICY, T0 + timedelta(days=32), T0, marks=[mark(DueKind.person_left)]).overdue


def test_a_rotation_ends_a_mark() -> None:
    rotated = CodesFacts(8, 8, T0 + timedelta(days=3), 3)
    assert not assess(rotated, POLICY, T0 + timedelta(days=4), T0, marks=[mark(DueKind.leaked_code)]).due
    assert assess(None, POLICY, T0, T0, marks=[mark(DueKind.leaked_code, 0)]).reasons[0].kind is DueKind.leaked_code


def test_burned_codes_are_not_counted_as_revealed_and_survive_the_summary() -> None:
    facts = CodesFacts(8, 6, T0, 1, (T0 + timedelta(days=1), T0 + timedelta(days=2)), burned=1)
    verdict = assess(facts, POLICY, T0 + timedelta(days=3), T0)
    assert [r.message for r in verdict.reasons if r.kind is DueKind.revealed] == [
        "1 code(s) revealed since the last rotation"]
    summary = summary_from_metadata(summary_to_metadata(summary_of(facts, 5)))
    assert summary is not None and summary.burned == 1
    assert project(summary, 5, {}) == facts
    older = summary_to_metadata(summary_of(facts, 5)) or {}
    older.pop("burned")  # a summary written before burned codes existed reads as none burned
    assert (summary_from_metadata(older) or summary).burned == 0
