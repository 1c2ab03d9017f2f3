"""The reveal stage: each hand-out joined with its grant and with what became of its wrapping token.

A hand-out is checked against the grant's state at that moment (approved, or claimed for this reveal), every
attempt on its wrapping token (and on the tokens a rewrap of it handed out) is judged against the requester,
and the result is one ``Reveal`` with its anomalies.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from custody.auditlog.anomalies import WHY
from custody.auditlog.context import Context, approval, principal
from custody.auditlog.facts import (
    APPROVED,
    CUBBYHOLE,
    KEY_BITS,
    NO_DECISION,
    RESUMED,
    REVEALED,
    REVOKED_FAILED,
    REWRAP,
    GrantEntry,
    GrantInfo,
    Handout,
    UnwrapAttempt,
    Who,
)
from custody.auditlog.model import Anomaly, AnomalyKind, Reveal, Review, Severity, Unwrap, UnwrapStatus
from custody.auditlog.timeparse import time_int, to_dt

NOBODY = Who("", "")


def anomaly(
    ctx: Context,
    kind: AnomalyKind,
    time: str,
    who: Who,
    path: str,
    detail: str,
    severity: Severity | None = None,
    **where: str,
) -> None:
    """Record one anomaly; ``where`` holds the optional fields (account, grant_id, request_id, ...)."""
    sev, why = WHY[kind]
    a = Anomaly(kind=kind, severity=severity or sev, time=time, principal=principal(who), path=path, detail=detail,
                why=why, **where)
    ctx.add_anomaly(a, who)


def reveal_stage(ctx: Context, handouts: list[Handout], unwraps: dict[str, list[UnwrapAttempt]]) -> None:
    """Build the reveals of the window, oldest first.

    With ``ctx.consume``, each grant's entries, each wrapping token's unwraps and each hand-out are freed as soon
    as their last reveal is built: the reveals take their place in memory instead of adding to it.
    """
    grants = ctx.part.grants
    grant_uses: Counter[str] = Counter(ho.grant_id for ho in handouts) if ctx.consume else Counter()
    wrap_uses: Counter[str] = Counter(ho.wrap for ho in handouts) if ctx.consume else Counter()
    no_entries: list[GrantEntry] = []
    handouts.reverse()  # popped from the end: oldest first, each hand-out freed once its reveal is built
    while handouts:
        ho = handouts.pop()
        entries = grants.get(ho.grant_id, no_entries)
        attempts = sorted(_chain(unwraps, ho.wrap), key=lambda u: (u.time, u.request_id))
        if ctx.consume:
            grant_uses[ho.grant_id] -= 1
            if not grant_uses[ho.grant_id]:
                grants.pop(ho.grant_id, None)
            wrap_uses[ho.wrap] -= 1
            if not wrap_uses[ho.wrap]:
                unwraps.pop(ho.wrap, None)
        if ctx.shown(ho.time):
            _one_reveal(ctx, ho, entries, attempts)


def _one_reveal(ctx: Context, ho: Handout, entries: list[GrantEntry], attempts: list[UnwrapAttempt]) -> None:
    at = _state_at(entries, ho)
    last = entries[-1] if entries else None
    info = last.info if last is not None else None
    requester = info.requester if info is not None else NOBODY
    account = info.account if info is not None else ""
    _check_handout(ctx, ho, entries, at, info)
    oks = [u for u in attempts if u.ok]
    status = _unwrap_status(ho, oks, requester, ctx.part.last, ctx.late_after, _revoked_by_service(ho, entries))
    _judge_unwraps(ctx, ho, oks, requester, account)
    _status_anomaly(ctx, ho, status, oks, requester, account)
    for u in attempts:
        if not u.ok:
            anomaly(ctx, AnomalyKind.UNWRAP_FAILED, u.time, u.who, u.path,
                    f"unwrap of grant {ho.grant_id}'s wrapping token failed: {u.error.strip()}; "
                    f"caller token {u.token or '?'} from {u.remote or '?'}",
                    account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)
    state = at or last
    rv = Reveal(
        time=ho.time,
        request_id=ho.request_id,
        account=account,
        grant_id=ho.grant_id,
        requester=principal(requester),
        reason=info.reason if info is not None else "",
        ticket=info.ticket if info is not None else "",
        emergency=bool(info is not None and info.emergency),
        approvers=[approval(a) for a in (state.approvals if state is not None else ())],
        grant_status_at_handout=at.status if at is not None else "",
        wrap_ttl_seconds=ho.ttl,
        unwrap_status=status,
        unwraps=[
            Unwrap(time=u.time, principal=principal(u.who), ok=u.ok, error=u.error.strip(),
                   request_id=u.request_id, remote_address=u.remote, path=u.path)
            for u in attempts
        ],
        review=review_of(entries),
        drill=info.drill if info is not None else "",
    )
    ctx.reveals.append(rv)
    if account:
        ctx.accounts[account].reveals.append(rv)
    req_acc = ctx.principals.get(requester)
    if req_acc is not None:
        req_acc.revealed.add(ho.grant_id)


def review_of(entries: list[GrantEntry]) -> Review | None:
    """An emergency grant's review, as its latest record states it (who, when, with what comment)."""
    if not entries:
        return None
    info: GrantInfo = entries[-1].info
    by, by_entity, at, comment = info.review if info.review != NO_DECISION else (info.reviewed_by, "", "", "")
    if not by:
        return None
    if not at:  # a record without the review's own time: the time of the write that recorded it
        at = next((e.time for e in entries if e.info.reviewed_by or e.info.review != NO_DECISION), "")
    return Review(by=by, by_entity=by_entity, at=at, comment=comment)


def _state_at(entries: list[GrantEntry], ho: Handout) -> GrantEntry | None:
    """The grant's last write at or before the hand-out."""
    at = None
    ho_t = time_int(ho.time)
    for e in entries:
        if e.stamp >> KEY_BITS > ho_t:
            break
        at = e
    return at


def _check_handout(
    ctx: Context, ho: Handout, entries: list[GrantEntry], at: GrantEntry | None, info: GrantInfo | None
) -> None:
    """Allowed: approved at some point, and at the hand-out either still approved or claimed for this reveal (the
    service marks the grant revealed before it wraps the code; a reveal that stopped half-way is resumed with a
    new wrapping token, so a second hand-out can be legitimate)."""
    ho_t = time_int(ho.time)
    ever_approved = any(e.status == APPROVED for e in entries if e.stamp >> KEY_BITS <= ho_t)
    if at is not None and at.status in (APPROVED, REVEALED) and ever_approved:
        return
    if at is not None:
        detail = f"grant {ho.grant_id} was {at.status!r} when its code was handed out" + (
            "" if ever_approved else " and had never been approved"
        )
    else:
        detail = f"no write of grant {ho.grant_id} precedes the hand-out in the logs read"
    anomaly(ctx, AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT, ho.time, info.requester if info is not None else ho.who,
            f"{ctx.mount}/data/reveals/{ho.grant_id}", detail, account=info.account if info is not None else "",
            grant_id=ho.grant_id, request_id=ho.request_id)


def _judge_unwraps(ctx: Context, ho: Handout, oks: list[UnwrapAttempt], requester: Who, account: str) -> None:
    """Each successful attempt (one, unless rewraps handed the code on in new wrapping tokens) against the
    requester."""
    for u in oks:
        who = u.who
        verdict = _verdict(u, requester)
        if verdict is UnwrapStatus.WRONG_PRINCIPAL:
            rewrap = u.path == REWRAP
            anomaly(ctx, AnomalyKind.UNWRAP_WRONG_PRINCIPAL, u.time, who, u.path,
                    f"code of grant {ho.grant_id} (requested by {requester.name or requester.entity}) "
                    f"{_took(u)} by {who.name or who.entity}"
                    + (": they got a new wrapping token for the same code (its unwraps are listed with this reveal)"
                       if rewrap else ""),
                    account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)
        elif verdict is UnwrapStatus.UNATTRIBUTED:
            if u.self_unwrap:
                how = "with the wrapping token itself"
            elif who.entity or who.name:
                how = f"by {who.name or who.entity}, and the requester is not in the logs read"
            else:
                how = "by a token with no identity"
            anomaly(ctx, AnomalyKind.UNWRAP_UNATTRIBUTED, u.time, who, u.path,
                    f"code of grant {ho.grant_id} {_took(u)} {how} from {u.remote or '?'}",
                    account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)
        if u.path != REWRAP:  # a rewrap only passes the code on
            acc = ctx.principals.get(who)
            if acc is not None:
                acc.unwrapped += 1


def _status_anomaly(
    ctx: Context, ho: Handout, status: UnwrapStatus, oks: list[UnwrapAttempt], requester: Who, account: str
) -> None:
    if status is UnwrapStatus.LATE:
        first_ok = oks[0]
        delay = to_dt(first_ok.time) - to_dt(ho.time)
        anomaly(ctx, AnomalyKind.UNWRAP_LATE, first_ok.time, first_ok.who, first_ok.path,
                f"code of grant {ho.grant_id} {_took(first_ok)} {delay.total_seconds():.1f}s after hand-out "
                f"(threshold {ctx.late_after.total_seconds():.0f}s)",
                account=account, grant_id=ho.grant_id, request_id=first_ok.request_id,
                remote_address=first_ok.remote)
    elif status is UnwrapStatus.NEVER:
        anomaly(ctx, AnomalyKind.NEVER_UNWRAPPED, ho.time, requester, f"{ctx.mount}/data/reveals/{ho.grant_id}",
                f"wrapping token of grant {ho.grant_id} (ttl {ho.ttl}s) was never unwrapped",
                account=account, grant_id=ho.grant_id, request_id=ho.request_id)


def _chain(unwraps: dict[str, list[UnwrapAttempt]], wrap: str) -> list[UnwrapAttempt]:
    """The attempts on a wrapping token, and on every wrapping token a successful rewrap of it handed out."""
    got = list(unwraps.get(wrap, ()))
    seen = {wrap}
    i = 0
    while i < len(got):
        u = got[i]
        i += 1
        if u.new_wrap and u.ok and u.new_wrap not in seen:
            seen.add(u.new_wrap)
            got.extend(unwraps.get(u.new_wrap, ()))
    return got


def rewrap_targets(unwraps: dict[str, list[UnwrapAttempt]]) -> set[str]:
    """The wrapping tokens successful rewraps handed out (their attempts belong to the same reveal)."""
    return {u.new_wrap for us in unwraps.values() for u in us if u.new_wrap and u.ok}


def _took(u: UnwrapAttempt) -> str:
    if u.path == REWRAP:
        return "rewrapped"
    if u.path == CUBBYHOLE:
        return "unwrapped through cubbyhole/response"
    return "unwrapped"


def _verdict(u: UnwrapAttempt, requester: Who) -> UnwrapStatus:
    """Who took the code in one successful attempt: the requester, someone else, or nobody known."""
    who = u.who
    if u.self_unwrap or not (who.entity or who.name):
        return UnwrapStatus.UNATTRIBUTED
    if requester.entity and who.entity:
        same = who.entity == requester.entity
    elif requester.name and who.name:
        same = who.name == requester.name  # e.g. a root token: a name, no entity, and not the requester
    else:
        return UnwrapStatus.UNATTRIBUTED  # the requester is not in the logs read
    return UnwrapStatus.BY_REQUESTER if same else UnwrapStatus.WRONG_PRINCIPAL


def _revoked_by_service(ho: Handout, entries: list[GrantEntry]) -> UnwrapStatus | None:
    """Whether the service revoked this hand-out's wrapping token, and why (None: it did not, as far as the log
    says): to hand the code out again (``custody access reveal --again``, for a requester whose answer was lost),
    or because it could not record the hand-out (the reveal failed; the requester never had the token).

    The grant's record names the token, HMAC'd with the audit device's key as the hand-out's ``wrap_info.accessor``
    is (the default; an audit device with ``hmac_accessor`` off logs the latter in clear, and nothing matches):
    - the grant.reveal_failed write of the attempt that made it, which the service writes with the accessor only
      once Vault revoked the token;
    - or the grant.revealed write of the attempt that handed it out (number n), and a later attempt began on that
      delivered grant (grant.reveal_resumed, number above n): the service writes that only once its revoke of the
      token succeeded, which Vault refuses for a token already unwrapped. Attempt numbers, not times, order the
      two writes: no clock is trusted."""
    if not ho.accessor:
        return None
    n = 0
    for e in entries:
        if e.handed_out == ho.accessor:
            if e.event == REVOKED_FAILED:
                return UnwrapStatus.REVOKED_UNRECORDED
            n = n or e.attempt
    if n > 0 and any(e.event == RESUMED and e.attempt > n for e in entries):
        return UnwrapStatus.REVOKED_REISSUED
    return None


def _unwrap_status(
    ho: Handout,
    oks: list[UnwrapAttempt],
    requester: Who,
    log_end: str,
    late_after: timedelta,
    revoked: UnwrapStatus | None,
) -> UnwrapStatus:
    """The reveal's status from its successful attempts in time order (several only through rewraps): the first
    that was not the requester's decides; if all were the requester's, the first one's delay. A token nobody
    unwrapped is ``revoked`` (``_revoked_by_service``: the service revoked it, and why), whatever its TTL."""
    if not oks:
        if revoked is not None:
            return revoked
        expired = ho.ttl > 0 and log_end and to_dt(log_end) - to_dt(ho.time) > timedelta(seconds=ho.ttl)
        return UnwrapStatus.NEVER if expired else UnwrapStatus.OUTSTANDING
    for u in oks:
        verdict = _verdict(u, requester)
        if verdict is not UnwrapStatus.BY_REQUESTER:
            return verdict
    if to_dt(oks[0].time) - to_dt(ho.time) > late_after:
        return UnwrapStatus.LATE
    return UnwrapStatus.BY_REQUESTER
