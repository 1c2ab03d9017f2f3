"""The grant state machine, as pure functions from (grant, actor, time) to a new grant.

    pending --approve x N--> approved --reveal--> revealed
       |                        |
       +--deny--> denied        +--(expiry)--> expired        any open grant --revoke--> revoked

Each function refuses with a specific error instead of returning a grant the rules do not allow. The invariants
(tested with hypothesis): a grant is revealed at most once, only by its requester, only with the approvals its
account required from distinct people other than the requester.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custody.domain.ids import new_grant_id
from custody.domain.models import Account, Decision, Grant, GrantStatus, Principal
from custody.domain.reasons import hidden_characters
from custody.errors import Conflict, PermissionDenied, PreconditionFailed, ValidationError

OPEN = (GrantStatus.pending, GrantStatus.approved)


def _comment(text: str | None) -> str:
    comment = (text or "").strip()
    if len(comment) > 1000 or hidden_characters(comment):
        raise ValidationError("a comment is one line of at most 1000 characters, without control or "
                              "direction-override characters")
    return comment


def request(
    account: Account,
    requester: Principal,
    reason: str,
    ticket: str | None,
    now: datetime,
    ttl: timedelta,
    emergency: bool = False,
    codes_generation: int = 0,
) -> Grant:
    """A new grant: approved at once when the account needs no approval or it is an emergency."""
    approved = account.approvals_required == 0 or emergency
    return Grant(
        id=new_grant_id(),
        account=account.id,
        requester=requester.display_name,
        requester_id=requester.id,
        reason=reason,
        ticket=ticket,
        status=GrantStatus.approved if approved else GrantStatus.pending,
        approvals_required=account.approvals_required,
        emergency=emergency and account.approvals_required > 0,
        created_at=now,
        expires_at=now + ttl,
        codes_generation=codes_generation,
    )


def _must_be(grant: Grant, now: datetime, *allowed: GrantStatus, action: str) -> None:
    status = grant.effective_status(now)
    if status not in allowed:
        raise PreconditionFailed(
            f"grant {grant.id} is {status.value}; it cannot be {action}",
            hint="request a new grant" if status in (GrantStatus.expired, GrantStatus.denied) else None,
        )


def approve(grant: Grant, approver: Principal, now: datetime, comment: str | None = None) -> Grant:
    if approver.id == grant.requester_id:
        raise PermissionDenied("you cannot approve your own request", hint="ask another approver")
    # Before the status check: a retried approval whose first attempt landed (its answer lost, or the grant
    # approved by it) is told so, not that the grant "cannot be approved".
    if any(a.by_id == approver.id for a in grant.approvals):
        status = grant.effective_status(now)
        if status is GrantStatus.pending:
            raise Conflict(f"you already approved grant {grant.id}", hint="another approver must approve it")
        raise Conflict(f"you already approved grant {grant.id}; it is {status.value} now")
    _must_be(grant, now, GrantStatus.pending, action="approved")
    approvals = (*grant.approvals, Decision(by=approver.display_name, by_id=approver.id, at=now,
                                            comment=_comment(comment)))
    status = GrantStatus.approved if len(approvals) >= grant.approvals_required else GrantStatus.pending
    return grant.model_copy(update={"approvals": approvals, "status": status})


def deny(grant: Grant, actor: Principal, now: datetime, comment: str | None = None) -> Grant:
    if grant.denial is not None and grant.denial.by_id == actor.id:
        raise Conflict(f"you already denied grant {grant.id}")
    _must_be(grant, now, *OPEN, action="denied")
    decision = Decision(by=actor.display_name, by_id=actor.id, at=now, comment=_comment(comment))
    return grant.model_copy(update={"status": GrantStatus.denied, "denial": decision})


def check_reveal(grant: Grant, actor: Principal, now: datetime) -> None:
    """Raise unless ``actor`` may take this grant's code now."""
    if actor.id != grant.requester_id:
        raise PermissionDenied(
            f"only the requester of grant {grant.id} can reveal it", hint="request your own grant"
        )
    if grant.effective_status(now) is GrantStatus.revealed:
        raise Conflict(f"grant {grant.id} was already revealed",
                       hint="a grant hands out one code, once: request a new grant if you need another")
    _must_be(grant, now, GrantStatus.approved, action="revealed")
    distinct = {a.by_id for a in grant.approvals} - {grant.requester_id}
    if len(distinct) < grant.approvals_required and not grant.emergency:
        raise PreconditionFailed(f"grant {grant.id} lacks approvals")


def reveal_incomplete(grant: Grant) -> bool:
    """Claimed for a reveal whose code never reached the requester (the claim has no code fingerprint yet)."""
    return grant.status is GrantStatus.revealed and not grant.code_fp


def reveal(grant: Grant, actor: Principal, now: datetime, code_fp: str) -> Grant:
    check_reveal(grant, actor, now)
    return grant.model_copy(update={"status": GrantStatus.revealed, "revealed_at": now, "code_fp": code_fp})


def review(grant: Grant, reviewer: Principal, now: datetime, comment: str | None = None) -> Grant:
    """Post-hoc review of an emergency grant, by someone other than its requester."""
    if not grant.emergency:
        raise PreconditionFailed(f"grant {grant.id} is not an emergency grant; there is nothing to review")
    if grant.review is not None:
        raise Conflict(f"grant {grant.id} was already reviewed by {grant.review.by}")
    if reviewer.id == grant.requester_id:
        raise PermissionDenied("you cannot review your own emergency grant", hint="ask another approver")
    decision = Decision(by=reviewer.display_name, by_id=reviewer.id, at=now, comment=_comment(comment))
    return grant.model_copy(update={"review": decision})


def revocable(grant: Grant, now: datetime) -> bool:
    """Open, or claimed by a reveal whose code never reached the requester (it could still be resumed)."""
    return grant.effective_status(now) in OPEN or reveal_incomplete(grant)


def revoke(grant: Grant, now: datetime, reason: str) -> Grant:
    if not reveal_incomplete(grant):
        _must_be(grant, now, *OPEN, action="revoked")
    return grant.model_copy(update={"status": GrantStatus.revoked, "revoked_reason": reason})


def expire(grant: Grant, now: datetime) -> Grant:
    """Write down what ``effective_status`` already says: an open grant past its expiry is expired."""
    if grant.status not in OPEN or now < grant.expires_at:
        raise PreconditionFailed(f"grant {grant.id} is {grant.effective_status(now).value}, not due to expire")
    return grant.model_copy(update={"status": GrantStatus.expired})


def review_overdue(grant: Grant, now: datetime, within: timedelta) -> bool:
    return grant.emergency and grant.review is None and now - grant.created_at > within
