"""A grant as text: what it is, then its whole story in order, then what happens next.

``custody access show`` prints this, and so do ``request``, ``approve``, ``deny`` and ``review`` with the grant
they changed. The JSON form (``--format json``) is the API's grant, unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from custody.cli.output import printable


def grant_text(g: dict[str, Any]) -> str:
    approvals = g.get("approvals") or []
    approvers = ", ".join(printable(str(a.get("approver"))) for a in approvals) or "none"
    lines = [
        f"grant {g['id']}  [{g['status']}]{'  EMERGENCY' if g.get('emergency') else ''}"
        + (f"  DRILL {printable(str(g['drill']))}" if g.get("drill") else ""),
        f"  account:   {printable(str(g['account']))}",
        f"  requester: {printable(str(g['requester']))}",
        f"  reason:    {printable(str(g['reason']))}",
        f"  ticket:    {printable(str(g.get('ticket') or '-'))}",
        f"  approvals: {len(approvals)}/{g['approvals_required']} ({approvers})",
        f"  expires:   {g['expires_at']}",
        "  history:",
        *(f"    {when:<23}  {what}" for when, what in _history(g)),
    ]
    lines += _next(g)
    return "\n".join(lines)


def _history(g: dict[str, Any]) -> list[tuple[str, str]]:
    """(when, what) for every step the grant went through, oldest first."""
    requester = printable(str(g["requester"]))
    kind = " as an emergency (approvals skipped; reviewed afterwards)" if g.get("emergency") else ""
    steps: list[tuple[str, str]] = [(str(g.get("created_at") or ""), f"requested by {requester}{kind}")]
    for a in g.get("approvals") or []:
        steps.append((str(a.get("at") or ""), f"approved by {_decision(a, 'approver')}"))
    if denial := g.get("denial"):
        steps.append((str(denial.get("at") or ""), f"denied by {_decision(denial, 'denied_by')}"))
    if g.get("revealed_at"):
        steps.append((str(g["revealed_at"]), f"revealed: one code handed to {requester}"))
    if review := g.get("review"):
        steps.append((str(review.get("at") or ""), f"reviewed by {_decision(review, 'reviewed_by')}"))
    if g.get("status") == "expired":
        steps.append((str(g.get("expires_at") or ""), "expired before its code was revealed"))
    steps.sort(key=lambda step: _instant(step[0]) or datetime.max.replace(tzinfo=UTC))
    if g.get("status") == "revoked":  # the record keeps why, not when
        steps.append(("", f"revoked: {printable(str(g.get('revoked_reason') or 'no reason recorded'))}"))
    return [(_shown(when), what) for when, what in steps]


def _decision(d: dict[str, Any], who: str) -> str:
    comment = str(d.get("comment") or "")
    return printable(str(d.get(who))) + (f': "{printable(comment)}"' if comment else " (no comment)")


def _next(g: dict[str, Any]) -> list[str]:
    """What the grant waits for, if anything: an approval, the reveal, or (emergency grants) the review."""
    status, gid = g.get("status"), g["id"]
    if status == "pending":
        missing = int(g.get("approvals_required") or 0) - len(g.get("approvals") or [])
        return [f"next: {missing} more approval(s); an approver runs `custody access approve {gid}`"]
    lines = []
    if status == "approved":
        lines.append(f"next: custody access reveal {gid}")
    if g.get("emergency") and not g.get("review") and status not in ("denied", "pending"):
        overdue = "OVERDUE, " if g.get("review_overdue") else ""
        lines.append(f"review: {overdue}awaiting an approver's review: `custody access review {gid} --comment ...`")
    return lines


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(text: str) -> str:
    moment = _instant(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else printable(text)
