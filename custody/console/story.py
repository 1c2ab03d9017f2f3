"""A grant's whole story, in order: requested, each approval with its comment, the denial, the reveal, the expiry
or revocation, the emergency review; and what the grant waits for next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from custody.domain.models import Grant, GrantStatus


@dataclass(frozen=True)
class Step:
    at: datetime | None  # None: the record keeps no time for it (a revocation)
    what: str
    who: str = ""
    comment: str = ""


def story(g: Grant) -> list[Step]:
    """Every step ``g`` went through, oldest first."""
    kind = " as an emergency (approvals skipped; reviewed afterwards)" if g.emergency else ""
    steps = [Step(g.created_at, f"requested{kind}", g.requester, g.reason)]
    steps += [Step(a.at, "approved", a.by, a.comment) for a in g.approvals]
    if g.denial is not None:
        steps.append(Step(g.denial.at, "denied", g.denial.by, g.denial.comment))
    if g.revealed_at is not None:
        what = "revealed: one code handed out" if g.code_fp else "reveal started, not finished"
        steps.append(Step(g.revealed_at, what, g.requester))
    if g.review is not None:
        steps.append(Step(g.review.at, "emergency access reviewed", g.review.by, g.review.comment))
    if g.status is GrantStatus.expired:
        steps.append(Step(g.expires_at, "expired before its code was revealed"))
    steps.sort(key=lambda s: s.at or datetime.max.replace(tzinfo=UTC))
    if g.status is GrantStatus.revoked:
        steps.append(Step(None, "revoked", comment=g.revoked_reason or "no reason recorded"))
    return steps


def waiting_for(g: Grant, review_overdue: bool) -> list[str]:
    """What the grant waits for, if anything."""
    out = []
    if g.status is GrantStatus.pending:
        missing = max(g.approvals_required - len(g.approvals), 0)
        out.append(f"{missing} more approval{'s' if missing != 1 else ''} from an approver other than the requester")
    elif g.status is GrantStatus.approved:
        out.append(f"the requester's reveal, before {shown(g.expires_at)}")
    if g.emergency and g.review is None and g.status is not GrantStatus.pending:
        out.append(("OVERDUE: " if review_overdue else "") + "an approver's review of this emergency access")
    return out


def shown(at: datetime | None) -> str:
    """A time as pages show it: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def age(at: datetime, now: datetime) -> str:
    """How long ago, in the largest unit that fits: ``5 min``, ``3 h``, ``2 d``."""
    seconds = max((now - at) // timedelta(seconds=1), 0)
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
