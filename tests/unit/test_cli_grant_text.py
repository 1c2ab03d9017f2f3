"""``custody access show`` as text: every grant tells its whole story, whatever became of it."""

from __future__ import annotations

from typing import Any

from custody.cli.grant_text import grant_text

GID = "gr_abcdefghijklmnop"


def grant(**changes: Any) -> dict[str, Any]:
    """A grant as the API answers it (``grant_json``), pending by default."""
    base: dict[str, Any] = {
        "id": GID, "account": "pypi/acme", "requester": "alice", "requester_id": "ent-a",
        "reason": "Lost my hardware key; need to revoke a leaked token", "ticket": "SEC-1", "status": "pending",
        "approvals_required": 2, "approvals": [], "denial": None, "emergency": False,
        "created_at": "2030-01-01T10:00:00+00:00", "expires_at": "2030-01-02T10:00:00+00:00",
        "codes_generation": 1, "revealed_at": None, "code_fp": None, "review": None, "reviewed_by": None,
        "revoked_reason": None, "review_overdue": False,
    }
    return base | changes


def approval(who: str, at: str, comment: str = "") -> dict[str, str]:
    return {"approver": who, "approver_entity": f"ent-{who}", "at": at, "comment": comment}


def history(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("  history:") + 1
    return [line.strip() for line in lines[start:] if line.startswith("    ")]


def test_revealed_grant() -> None:
    text = grant_text(grant(status="revealed", revealed_at="2030-01-01T10:07:00+00:00", code_fp="fp-x", approvals=[
        approval("bob", "2030-01-01T10:05:00+00:00", "confirmed on a call"),
        approval("carol", "2030-01-01T10:06:00+00:00")]))
    assert "  reason:    Lost my hardware key; need to revoke a leaked token" in text
    assert "  ticket:    SEC-1" in text
    assert "  approvals: 2/2 (bob, carol)" in text
    assert history(text) == [
        "2030-01-01 10:00:00 UTC  requested by alice",
        '2030-01-01 10:05:00 UTC  approved by bob: "confirmed on a call"',
        "2030-01-01 10:06:00 UTC  approved by carol (no comment)",
        "2030-01-01 10:07:00 UTC  revealed: one code handed to alice",
    ]
    assert "next:" not in text and "review:" not in text


def test_denied_grant() -> None:
    denial = {"denied_by": "dave", "denied_by_entity": "ent-d", "at": "2030-01-01T11:00:00+00:00",
              "comment": "no incident open"}
    text = grant_text(grant(status="denied", denial=denial,
                            approvals=[approval("bob", "2030-01-01T10:30:00+00:00", "ok")]))
    assert history(text)[1:] == ['2030-01-01 10:30:00 UTC  approved by bob: "ok"',
                                 '2030-01-01 11:00:00 UTC  denied by dave: "no incident open"']
    assert "next:" not in text


def test_revoked_grant() -> None:
    text = grant_text(grant(status="revoked", revoked_reason="the account's codes were rotated"))
    assert history(text)[-1] == "revoked: the account's codes were rotated"


def test_expired_grant() -> None:
    text = grant_text(grant(status="expired", approvals=[approval("bob", "2030-01-01T10:30:00+00:00")]))
    assert history(text)[-1] == "2030-01-02 10:00:00 UTC  expired before its code was revealed"
    assert "next:" not in text


def test_emergency_grant_reviewed() -> None:
    review = {"reviewed_by": "erin", "reviewed_by_entity": "ent-e", "at": "2030-01-01T12:00:00+00:00",
              "comment": "INC-311 confirmed"}
    text = grant_text(grant(status="revealed", emergency=True, revealed_at="2030-01-01T10:01:00+00:00",
                            review=review, reviewed_by="erin"))
    assert text.splitlines()[0] == f"grant {GID}  [revealed]  EMERGENCY"
    assert history(text) == [
        "2030-01-01 10:00:00 UTC  requested by alice as an emergency (approvals skipped; reviewed afterwards)",
        "2030-01-01 10:01:00 UTC  revealed: one code handed to alice",
        '2030-01-01 12:00:00 UTC  reviewed by erin: "INC-311 confirmed"',
    ]
    assert "review:" not in text


def test_emergency_grant_awaiting_review_or_overdue() -> None:
    waiting = grant_text(grant(status="approved", emergency=True))
    assert f"next: custody access reveal {GID}" in waiting
    assert f"review: awaiting an approver's review: `custody access review {GID} --comment ...`" in waiting
    overdue = grant_text(grant(status="revealed", emergency=True, revealed_at="2030-01-01T10:01:00+00:00",
                               review_overdue=True))
    assert "review: OVERDUE, awaiting an approver's review" in overdue


def test_pending_grant_says_what_it_waits_for() -> None:
    text = grant_text(grant(approvals=[approval("bob", "2030-01-01T10:30:00+00:00")]))
    assert text.splitlines()[-1] == f"next: 1 more approval(s); an approver runs `custody access approve {GID}`"


def test_history_is_in_time_order_whatever_the_record_order() -> None:
    text = grant_text(grant(status="approved", approvals=[approval("late", "2030-01-01T10:50:00Z"),
                                                          approval("early", "2030-01-01T10:10:00Z")]))
    assert [line.split("  ", 1)[1] for line in history(text)] == [
        "requested by alice", "approved by early (no comment)", "approved by late (no comment)"]


def test_text_from_other_people_cannot_drive_the_terminal() -> None:
    text = grant_text(grant(reason="need it \x1b[2J\x1b[31mAPPROVED\u202e", status="denied", denial={
        "denied_by": "dave", "at": "2030-01-01T11:00:00Z", "comment": "no\rfaked line"}))
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "need it \\x1b[2J\\x1b[31mAPPROVED\\u202e" in text
    assert 'denied by dave: "no\\rfaked line"' in text


def test_a_drill_grant_says_so_first() -> None:
    text = grant_text(grant(status="pending", drill="dr_abcdefghijkl"))
    assert text.splitlines()[0] == f"grant {GID}  [pending]  DRILL dr_abcdefghijkl"
    assert grant_text(grant(status="pending")).splitlines()[0] == f"grant {GID}  [pending]"
