"""The grant state machine, as pure functions from (grant, actor, time) to a new grant, and the code picker.

    pending --approve x N--> approved --begin--> revealed, claimed --complete(fp, token)--> revealed, with its code
       |                       |  ^                 |   |                                        |
       +--deny--> denied       |  +----unclaim------+   +--begin again (failed or stopped)       +--begin again
                               +--(expiry)--> expired      (its requester, while the grant lasts)    (--again)
    pending, approved, or claimed without its code --revoke--> revoked
    an emergency grant, by anyone but its requester --review--> (reviewed; its status does not change)

A reveal is two steps because the code leaves Vault between them: *begin* takes the grant for one attempt (so two
reveals of one grant can never both proceed), the code is picked and wrapped, and *complete* records the code's
fingerprint and the wrapping token's accessor. A claim whose code could not be handed out (none left, or the codes
changed) is *unclaimed*; an attempt that failed is *abandoned*, and the requester's next reveal begins a new one
and gets the same code again (``pick_code``). So does ``--again`` after a reveal whose answer was lost, once the
token it handed out is revoked.

Each function refuses with a specific error instead of returning a grant the rules do not allow. The invariants
(tested with hypothesis): a grant hands out at most one code, only to its requester, only with the approvals its
account required from distinct people other than the requester; two grants never hold the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from custody.domain.ids import new_grant_id
from custody.domain.models import (
    Account,
    Attempt,
    AttemptState,
    CodeSet,
    Decision,
    Grant,
    GrantStatus,
    Principal,
    StoredCode,
)
from custody.domain.reasons import hidden_characters
from custody.errors import (
    CodesChanged,
    Conflict,
    Exhausted,
    PermissionDenied,
    PreconditionFailed,
    TooMany,
    ValidationError,
)

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
        why = f" ({grant.revoked_reason})" if status is GrantStatus.revoked and grant.revoked_reason else ""
        ended = (GrantStatus.expired, GrantStatus.denied, GrantStatus.revoked)
        raise PreconditionFailed(f"grant {grant.id} is {status.value}{why}; it cannot be {action}",
                                 hint="request a new grant" if status in ended else None)


def approvals_needed(grant: Grant, required: int = 0) -> int:
    """The approvals ``grant`` needs now: what its account asked for when it was requested, or ``required`` (the
    account's requirement today) if that was raised since. Never fewer: a lowered requirement does not loosen a
    grant already asked for."""
    return max(grant.approvals_required, required)


def short_of_approvals(grant: Grant, required: int = 0) -> bool:
    """Fewer distinct approvers (the requester aside) than ``grant`` needs now; an emergency grant needs none."""
    distinct = {a.by_id for a in grant.approvals} - {grant.requester_id}
    return not grant.emergency and len(distinct) < approvals_needed(grant, required)


def approve(grant: Grant, approver: Principal, now: datetime, comment: str | None = None, required: int = 0) -> Grant:
    """One more approval. ``required``: the account's requirement today; a grant approved before it was raised
    waits for the approvals it now lacks, and records the new requirement."""
    if approver.id == grant.requester_id:
        raise PermissionDenied("you cannot approve your own request", hint="ask another approver")
    status = grant.effective_status(now)
    reopened = status is GrantStatus.approved and short_of_approvals(grant, required)
    # Before the status check: a retried approval whose first attempt landed (its answer lost, or the grant
    # approved by it) is told so, not that the grant "cannot be approved".
    if any(a.by_id == approver.id for a in grant.approvals):
        if status is GrantStatus.pending or reopened:
            raise Conflict(f"you already approved grant {grant.id}", hint="another approver must approve it")
        raise Conflict(f"you already approved grant {grant.id}; it is {status.value} now")
    if not reopened:
        _must_be(grant, now, GrantStatus.pending, action="approved")
    needed = approvals_needed(grant, required)
    approvals = (*grant.approvals, Decision(by=approver.display_name, by_id=approver.id, at=now,
                                            comment=_comment(comment)))
    status = GrantStatus.approved if len(approvals) >= needed else GrantStatus.pending
    return grant.model_copy(update={"approvals": approvals, "status": status, "approvals_required": needed})


def deny(grant: Grant, actor: Principal, now: datetime, comment: str | None = None) -> Grant:
    if grant.denial is not None and grant.denial.by_id == actor.id:
        raise Conflict(f"you already denied grant {grant.id}")
    _must_be(grant, now, *OPEN, action="denied")
    decision = Decision(by=actor.display_name, by_id=actor.id, at=now, comment=_comment(comment))
    return grant.model_copy(update={"status": GrantStatus.denied, "denial": decision})


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


# ---- the reveal ------------------------------------------------------------------------------------------------
#
# A reveal is an *attempt*: begun by a check-and-set write that names it (a new number and the reveal's own nonce),
# so of concurrent reveals of one grant exactly one begins and the others are told one is in progress; finished by
# recording the wrapping token it handed out (its accessor), only if it is still the grant's latest attempt. So at
# most one wrapping token a requester was given is valid at any moment: a new attempt begins only when the last one
# handed nothing out (it failed, or its holder stopped longer than ``REVEAL_LEASE`` ago), or, asked for ``again``,
# after the service revoked the token the last one handed out.

REVEAL_LEASE = timedelta(seconds=60)  # an attempt still running after this is taken for dead; a reveal takes < 1 s


def check_reveal(grant: Grant, actor: Principal, now: datetime, required: int = 0) -> None:
    """Raise unless ``actor`` may take this grant's code now. ``required``: the account's requirement today (a
    grant approved before it was raised needs the approvals it now lacks)."""
    if actor.id != grant.requester_id:
        raise PermissionDenied(
            f"only the requester of grant {grant.id} can reveal it", hint="request your own grant"
        )
    if grant.effective_status(now) is GrantStatus.revealed:
        raise already_revealed(grant)
    if grant.effective_status(now) is GrantStatus.pending:
        raise PreconditionFailed(f"grant {grant.id} is pending; it cannot be revealed yet",
                                 hint=awaiting(grant, required))
    _must_be(grant, now, GrantStatus.approved, action="revealed")
    if short_of_approvals(grant, required):
        if required > grant.approvals_required:
            raise PreconditionFailed(
                f"grant {grant.id} needs more approvals now: {grant.account} requires {required} approval(s) per "
                f"reveal since the grant was requested (it was approved with {grant.approvals_required})",
                hint=awaiting(grant, required))
        raise PreconditionFailed(f"grant {grant.id} lacks approvals", hint=awaiting(grant))


def awaiting(grant: Grant, required: int = 0) -> str:
    """Who still has to approve ``grant``, for the requester who tries to reveal it too early."""
    needed = approvals_needed(grant, required)
    distinct = {a.by_id for a in grant.approvals} - {grant.requester_id}
    more = max(needed - len(distinct), 0)
    so_far = f" (approved so far by {', '.join(a.by for a in grant.approvals)})" if grant.approvals else ""
    return (f"it needs {more} more approval{'' if more == 1 else 's'} of {needed}{so_far}, each "
            f"by an approver other than you (a requester cannot approve their own grant): ask one to run "
            f"`custody access approve {grant.id}`")


def already_revealed(grant: Grant) -> Conflict:
    return Conflict(
        f"grant {grant.id} was already revealed",
        hint="a grant hands out one code, once. If that reveal's answer never reached you (you have no code), "
             f"`custody access reveal --again {grant.id}` revokes the wrapping token it handed out and hands out a "
             "new one for the same code; otherwise request a new grant")


def running(grant: Grant, now: datetime) -> bool:
    """An attempt is under way: begun less than ``REVEAL_LEASE`` ago and not yet finished."""
    a = grant.attempt
    return a is not None and a.state is AttemptState.running and now - a.started_at < REVEAL_LEASE


def reveal_incomplete(grant: Grant) -> bool:
    """Claimed for a reveal whose code never reached the requester (the claim has no code fingerprint yet)."""
    return grant.status is GrantStatus.revealed and not grant.code_fp


def handed_out(grant: Grant) -> str:
    """The accessor of the wrapping token the grant's latest attempt handed out ("" if none did)."""
    a = grant.attempt
    return a.accessor if a is not None and a.state is AttemptState.handed_out else ""


def delivered(grant: Grant) -> bool:
    """Whether a wrapping token holding the grant's code reached its requester (or may have: a grant revealed
    before custody recorded attempts)."""
    a = grant.attempt
    return bool(grant.code_fp) and (a is None or a.state is AttemptState.handed_out)


def begin(grant: Grant, actor: Principal, now: datetime, nonce: str, again: bool = False, required: int = 0) -> Grant:
    """A new attempt at handing out ``grant``'s code, named ``nonce``, for its requester only:

    - approved: the grant is claimed (``revealed`` without a code yet), taken for this reveal and no other;
    - claimed, or revealed by an attempt that handed nothing out (it failed, or stopped longer than the lease ago):
      the reveal is resumed, with the same code (``pick_code``), while the grant lasts;
    - revealed and ``delivered``: only ``again``, once the caller has revoked the wrapping token the last attempt
      handed out (``handed_out``), while the grant lasts.

    Refused while another attempt is running, and in every state the rules do not allow (``required``: see
    ``check_reveal``)."""
    if actor.id != grant.requester_id:
        check_reveal(grant, actor, now)  # refuses, naming the requester rule
    if running(grant, now):
        raise Conflict(f"a reveal of grant {grant.id} is in progress",
                       hint="its code goes to the reveal that began it; if that one failed, run `custody access "
                            f"reveal {grant.id}` again in a minute")
    if grant.status is GrantStatus.revealed:
        if delivered(grant) and not again:
            raise already_revealed(grant)
        if now >= grant.expires_at:
            raise PreconditionFailed(f"grant {grant.id} expired before its code reached you",
                                     hint="request a new grant")
        if delivered(grant) and not handed_out(grant):
            raise Conflict(f"grant {grant.id} was revealed before custody recorded its wrapping tokens; its code "
                           "cannot be handed out again", hint="request a new grant")
        claimed = grant
    else:
        check_reveal(grant, actor, now, required)
        claimed = grant.model_copy(update={"status": GrantStatus.revealed, "revealed_at": now, "code_fp": ""})
    number = grant.attempt.number + 1 if grant.attempt else 1
    return claimed.model_copy(update={"attempt": Attempt(number=number, nonce=nonce, started_at=now)})


def ours(grant: Grant, nonce: str) -> bool:
    """Whether ``grant``'s latest attempt is the one named ``nonce``."""
    return grant.attempt is not None and grant.attempt.nonce == nonce


def complete(grant: Grant, nonce: str, code_fp: str, accessor: str) -> Grant:
    """Attempt ``nonce`` handed out the code ``code_fp`` in the wrapping token ``accessor``: record both. Again
    changes nothing (the write landed before its answer was lost); refused if another attempt took over, or the
    grant was revoked meanwhile (a rotation: it keeps its code, reserved and never handed out)."""
    a = grant.attempt
    if ours(grant, nonce) and handed_out(grant) == accessor and grant.code_fp == code_fp:
        return grant
    if a is None or not ours(grant, nonce) or a.state is not AttemptState.running:
        raise Conflict(f"another reveal of grant {grant.id} took over while its code was being revealed",
                       hint="its wrapping token is the one that counts; this one was revoked")
    if grant.status is not GrantStatus.revealed:
        raise Conflict(f"grant {grant.id} was {grant.status.value} while its code was being revealed",
                       hint="request a new grant")
    done = a.model_copy(update={"state": AttemptState.handed_out, "accessor": accessor})
    return grant.model_copy(update={"code_fp": code_fp, "attempt": done})


def abandon(grant: Grant, nonce: str, revoked: str = "") -> Grant:
    """Attempt ``nonce`` failed: whatever it handed out never reached the requester (its token, if it made one, is
    revoked), so the next reveal may begin at once instead of waiting out the lease. Anything else is left as is.

    ``revoked``: the accessor of the wrapping token the attempt made and the service revoked, recorded so that the
    audit log's hand-out of that token reads as revoked, not as a token nobody unwrapped (an abandoned attempt's
    accessor never counts as handed out: ``handed_out``)."""
    a = grant.attempt
    if a is None or not ours(grant, nonce) or a.state is AttemptState.abandoned:
        return grant
    update: dict[str, object] = {"state": AttemptState.abandoned}
    if revoked:
        update["accessor"] = revoked
    return grant.model_copy(update={"attempt": a.model_copy(update=update)})


def unclaim(grant: Grant, nonce: str) -> Grant:
    """revealed -> approved, for a claim no code could be handed out for (none left, or the codes changed), and
    the attempt abandoned. Anything else is left as it is."""
    abandoned = abandon(grant, nonce)
    if abandoned is grant or not reveal_incomplete(grant):
        return abandoned
    return abandoned.model_copy(update={"status": GrantStatus.approved, "revealed_at": None})


# ---- which code a grant gets -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pick:
    """The code a grant gets, and the code set after it: ``fresh`` when the set must be written (a code newly
    marked consumed by the grant), not when it is the grant's code from an interrupted attempt."""

    code: StoredCode
    codes: CodeSet
    fresh: bool
    remaining: int  # unused codes left in ``codes``


def exhausted(account_id: str) -> Exhausted:
    return Exhausted(f"{account_id} has no codes left to hand out",
                     hint="the security team must rotate its recovery codes (`custody codes rotate`)")


def check_generation(grant: Grant, cs: CodeSet) -> None:
    """A grant takes a code of the set it was requested against, not of one rotated in (or replaced) later: say
    mid-rotation, before open grants are revoked, the approval was for codes that no longer exist."""
    if grant.codes_generation and cs.generation != grant.codes_generation:
        raise CodesChanged(f"{grant.account}'s codes were rotated or replaced after grant {grant.id} was "
                           "requested", hint="request a new grant")


def check_codes(grant: Grant, cs: CodeSet | None) -> None:
    """Raise unless ``cs`` can give ``grant`` a code: before a reveal claims the grant."""
    if cs is None or cs.remaining == 0:
        raise exhausted(grant.account)
    check_generation(grant, cs)


def pick_code(cs: CodeSet, grant: Grant, now: datetime) -> Pick:
    """The code ``grant`` gets from ``cs``: the one it already holds (a reveal that stopped half-way gets the same
    code, never a second), else the first unused one, marked consumed by it."""
    for c in cs.codes:
        if c.grant_id == grant.id:
            return Pick(c, cs, fresh=False, remaining=cs.remaining)
    check_generation(grant, cs)
    codes = list(cs.codes)
    for i, c in enumerate(codes):
        if c.available:
            codes[i] = c.model_copy(update={"consumed_at": now, "grant_id": grant.id})
            after = cs.model_copy(update={"codes": tuple(codes)})
            return Pick(c, after, fresh=True, remaining=after.remaining)
    raise exhausted(grant.account)


# ---- how a grant ends otherwise --------------------------------------------------------------------------------
def revocable(grant: Grant, now: datetime) -> bool:
    """Open, or claimed by a reveal whose code never reached the requester (it could still be resumed)."""
    return grant.effective_status(now) in OPEN or reveal_incomplete(grant)


def revoke(grant: Grant, now: datetime, reason: str) -> Grant:
    if not reveal_incomplete(grant):
        _must_be(grant, now, *OPEN, action="revoked")
    return grant.model_copy(update={"status": GrantStatus.revoked, "revoked_reason": reason})


def expirable(grant: Grant, now: datetime) -> bool:
    """Open and past its expiry, but not yet written down as expired."""
    return grant.status in OPEN and now >= grant.expires_at


def expire(grant: Grant, now: datetime) -> Grant:
    """Write down what ``effective_status`` already says: an open grant past its expiry is expired."""
    if not expirable(grant, now):
        raise PreconditionFailed(f"grant {grant.id} is {grant.effective_status(now).value}, not due to expire")
    return grant.model_copy(update={"status": GrantStatus.expired})


def review_overdue(grant: Grant, now: datetime, within: timedelta) -> bool:
    return grant.emergency and grant.review is None and now - grant.created_at > within


# ---- what one requester may hold at once -----------------------------------------------------------------------
#
# One person could otherwise drain an account with emergency grants (each approved at once), or open so many grants
# that every listing slows and a rotation's evidence outgrows what Vault accepts. So each requester holds at most
# ``per_account`` open grants on one account, ``total`` in all, and ``emergency`` emergency grants nobody has
# reviewed yet. What they hold is one small record, updated with check-and-set when they request: concurrent
# requests cannot together pass a limit. It lists grants as they were when admitted; whether each is still open (or
# still unreviewed) is only checked when a limit would be reached, by reading those few grants.

ADMISSION_GRACE = timedelta(minutes=1)  # a grant admitted this recently may not be written yet: it still counts


@dataclass(frozen=True)
class Limits:
    per_account: int
    total: int
    emergency: int  # emergency grants not yet reviewed


@dataclass(frozen=True)
class Held:
    grant_id: str
    account: str
    since: datetime


@dataclass(frozen=True)
class Holdings:
    """A requester's grants that may still be open (``open``) and their emergency grants that may still await
    review (``unreviewed``), oldest first."""

    open: tuple[Held, ...] = ()
    unreviewed: tuple[Held, ...] = ()

    def grant_ids(self) -> list[str]:
        return sorted({h.grant_id for h in (*self.open, *self.unreviewed)})


def over_limit(held: Holdings, grant: Grant, limits: Limits) -> TooMany | None:
    """Why ``grant``'s requester may not hold it too, or None."""
    if grant.emergency and len(held.unreviewed) >= limits.emergency:
        waiting = held.unreviewed[0]
        return TooMany(
            f"your emergency grant {waiting.grant_id} on {waiting.account} awaits review; you may hold at most "
            f"{limits.emergency} emergency {'grant' if limits.emergency == 1 else 'grants'} not yet reviewed, across "
            "all accounts",
            hint=f"ask an approver to review it (`custody access review {waiting.grant_id}`), or request a grant "
                 "without --emergency")
    here = [h for h in held.open if h.account == grant.account]
    if len(here) >= limits.per_account:
        return TooMany(
            f"you already hold {_grants(len(here))} on {grant.account} (at most {limits.per_account})",
            hint=f"reveal or wait out one of {', '.join(h.grant_id for h in here)} "
                 f"(`custody access list --account {grant.account}`)")
    if len(held.open) >= limits.total:
        return TooMany(
            f"you already hold {_grants(len(held.open))} across all accounts (at most {limits.total})",
            hint="reveal or wait out one of them first (`custody access list --status approved`, "
                 "`--status pending`)")
    return None


def _grants(n: int) -> str:
    return f"{n} open grant" if n == 1 else f"{n} open grants"


def admit(held: Holdings, grant: Grant, limits: Limits) -> Holdings:
    """What the requester holds once they also hold ``grant``; ``TooMany`` when a limit says no. Admitting a grant
    held already changes nothing (a retried write whose first try landed)."""
    if grant.id in held.grant_ids():
        return held
    refusal = over_limit(held, grant, limits)
    if refusal is not None:
        raise refusal
    new = Held(grant.id, grant.account, grant.created_at)
    return replace(held, open=(*held.open, new), unreviewed=(*held.unreviewed, new) if grant.emergency
                   else held.unreviewed)


def still_held(held: Holdings, grants: Mapping[str, Grant | None], now: datetime) -> Holdings:
    """``held`` without the grants that are no longer open (or, for emergency ones, have been reviewed); a grant
    not found is kept while it may still be being written."""

    def keep(h: Held, holds: bool | None) -> bool:
        return holds if holds is not None else now - h.since < ADMISSION_GRACE

    def opened(g: Grant | None) -> bool | None:
        return None if g is None else revocable(g, now)

    def unreviewed(g: Grant | None) -> bool | None:
        return None if g is None else g.emergency and g.review is None

    return Holdings(open=tuple(h for h in held.open if keep(h, opened(grants.get(h.grant_id)))),
                    unreviewed=tuple(h for h in held.unreviewed if keep(h, unreviewed(grants.get(h.grant_id)))))
