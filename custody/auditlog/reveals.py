"""The reveal stage: each hand-out joined with its grant and with what became of its wrapping token.

A hand-out is checked against the grant's state at that moment (approved, or claimed for this reveal), every
attempt on its wrapping token (and on the tokens a rewrap of it handed out) is judged against the requester,
and the result is one ``Reveal`` with its anomalies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from operator import attrgetter

from custody.auditlog.anomalies import WHY, Detail
from custody.auditlog.context import Context, approval, principal
from custody.auditlog.facts import (
    APPROVED,
    CUBBYHOLE,
    KEY_BITS,
    KEY_MASK,
    NO_DECISION,
    RESUMED,
    REVEAL_FAILED,
    REVEALED,
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
# Enum members as module constants: CPython 3.11 runs Python code to read one off its class (about 0.2 us), and
# each reveal reads several.
BY_REQUESTER, LATE, NEVER, OUTSTANDING = (UnwrapStatus.BY_REQUESTER, UnwrapStatus.LATE, UnwrapStatus.NEVER,
                                          UnwrapStatus.OUTSTANDING)
WRONG_PRINCIPAL, UNATTRIBUTED = UnwrapStatus.WRONG_PRINCIPAL, UnwrapStatus.UNATTRIBUTED
REVOKED_REISSUED, REVOKED_UNRECORDED = UnwrapStatus.REVOKED_REISSUED, UnwrapStatus.REVOKED_UNRECORDED
_MAY_HAND_OUT = (APPROVED, REVEALED)


def anomaly(
    ctx: Context,
    kind: AnomalyKind,
    time: str,
    who: Who,
    path: str,
    detail: Detail,
    severity: Severity | None = None,
    **where: str,
) -> None:
    """Record one anomaly; ``where`` holds the optional fields (account, grant_id, request_id, ...).

    It is counted whatever happens; it is built (and ``detail`` called, at once) only if it may be listed."""
    sev, why = WHY[kind]
    sev = severity or sev
    group = ctx.count_anomaly(kind, sev, time, who)
    if group.may_list(time, where.get("request_id", ""), where.get("grant_id", "")):
        group.add_listed(Anomaly(kind=kind, severity=sev, time=time, principal=principal(who), path=path,
                                 detail=detail if isinstance(detail, str) else detail(), why=why, **where))


def reveal_stage(ctx: Context, handouts: list[Handout], unwraps: dict[str, list[UnwrapAttempt]]) -> None:
    """Build the reveals of the window, oldest first.

    With ``ctx.consume``, each grant's entries, each wrapping token's unwraps and each hand-out are freed as soon
    as their last reveal is built: the reveals take their place in memory instead of adding to it.
    """
    grants = ctx.part.grants
    n = len(handouts)
    consume = ctx.consume
    # where each grant and wrapping token is used for the last time (counted from the end, as they are popped)
    last_grant = {ho.grant_id: n - i for i, ho in enumerate(handouts)} if consume else {}
    last_wrap = {ho.wrap: n - i for i, ho in enumerate(handouts)} if consume else {}
    no_entries: list[GrantEntry] = []
    late_us = ctx.late_after // _MICROSECOND
    handouts.reverse()  # popped from the end: oldest first, each hand-out freed once its reveal is built
    while handouts:
        ho = handouts.pop()
        grant_id, wrap = ho.grant_id, ho.wrap
        entries = grants.get(grant_id, no_entries)
        attempts = _chain(unwraps, wrap)
        if len(attempts) > 1:
            attempts.sort(key=_attempt_order)
        if consume:
            left = len(handouts) + 1
            if last_grant[grant_id] == left:
                grants.pop(grant_id, None)
            if last_wrap[wrap] == left:
                unwraps.pop(wrap, None)
        if ctx.shown(ho.time):
            _one_reveal(ctx, ho, entries, attempts, late_us)


_attempt_order = attrgetter("time", "request_id")


def _one_reveal(
    ctx: Context, ho: Handout, entries: list[GrantEntry], attempts: list[UnwrapAttempt], late_us: int
) -> None:
    at, ever_approved = _state_at(entries, ho)
    last = entries[-1] if entries else None
    info = last.info if last is not None else None
    requester = info.requester if info is not None else NOBODY
    account = info.account if info is not None else ""
    if at is None or not ever_approved or at.status not in _MAY_HAND_OUT:
        _handout_anomaly(ctx, ho, at, ever_approved, info)
    oks = [u for u in attempts if u.ok]
    verdicts = [_verdict(u, requester) for u in oks]
    status = _unwrap_status(ho, entries, oks, verdicts, ctx.part.last, late_us)
    if oks:
        _judge_unwraps(ctx, ho, oks, verdicts, requester, account)
    if status is LATE or status is NEVER:
        _status_anomaly(ctx, ho, status, oks, requester, account)
    unwraps = []
    for u in attempts:
        error = u.error.strip()
        if not u.ok:
            _failed_unwrap(ctx, ho, u, error, account)
        unwraps.append(Unwrap(error=error, ok=u.ok, path=u.path, principal=principal(u.who), remote_address=u.remote,
                              request_id=u.request_id, time=u.time))
    state = at or last
    rv = Reveal(
        account=account,
        approvers=[approval(a) for a in state.approvals] if state is not None else [],
        drill=info.drill if info is not None else "",
        emergency=bool(info is not None and info.emergency),
        grant_id=ho.grant_id,
        grant_status_at_handout=at.status if at is not None else "",
        reason=info.reason if info is not None else "",
        request_id=ho.request_id,
        requester=principal(requester),
        review=review_of(entries) if info is not None and (info.reviewed_by or info.review != NO_DECISION) else None,
        ticket=info.ticket if info is not None else "",
        time=ho.time,
        unwrap_status=status,
        unwraps=unwraps,
        wrap_ttl_seconds=ho.ttl,
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


def _state_at(entries: list[GrantEntry], ho: Handout) -> tuple[GrantEntry | None, bool]:
    """The grant's last write at or before the hand-out, and whether one of those writes approved it."""
    at = None
    ever_approved = False
    end = time_int(ho.time) << KEY_BITS | KEY_MASK  # the largest stamp at the hand-out's time
    for e in entries:  # in stamp order (``grant_stage`` sorted them)
        if e.stamp > end:
            break
        at = e
        if e.status == APPROVED:
            ever_approved = True
    return at, ever_approved


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
            if e.event == REVEAL_FAILED:
                return REVOKED_UNRECORDED
            n = n or e.attempt
    if n > 0 and any(e.event == RESUMED and e.attempt > n for e in entries):
        return REVOKED_REISSUED
    return None


def _handout_anomaly(
    ctx: Context, ho: Handout, at: GrantEntry | None, ever_approved: bool, info: GrantInfo | None
) -> None:
    """A hand-out that was not allowed. Allowed: approved at some point, and at the hand-out either still approved
    or claimed for this reveal (the service marks the grant revealed before it wraps the code; a reveal that stopped
    half-way is resumed with a new wrapping token, so a second hand-out can be legitimate)."""

    def detail() -> str:
        if at is None:
            return f"no write of grant {ho.grant_id} precedes the hand-out in the logs read"
        return f"grant {ho.grant_id} was {at.status!r} when its code was handed out" + (
            "" if ever_approved else " and had never been approved"
        )

    anomaly(ctx, AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT, ho.time, info.requester if info is not None else ho.who,
            f"{ctx.mount}/data/reveals/{ho.grant_id}", detail, account=info.account if info is not None else "",
            grant_id=ho.grant_id, request_id=ho.request_id)


def _judge_unwraps(
    ctx: Context, ho: Handout, oks: list[UnwrapAttempt], verdicts: list[UnwrapStatus], requester: Who, account: str
) -> None:
    """Each successful attempt (one, unless rewraps handed the code on in new wrapping tokens) against the
    requester (``verdicts``: each one's ``_verdict``)."""
    for u, verdict in zip(oks, verdicts, strict=True):
        who = u.who
        if verdict is WRONG_PRINCIPAL:
            _wrong_principal(ctx, ho, u, requester, account)
        elif verdict is UNATTRIBUTED:
            _unattributed(ctx, ho, u, account)
        if u.path != REWRAP:  # a rewrap only passes the code on
            acc = ctx.principals.get(who)
            if acc is not None:
                acc.unwrapped += 1


def _wrong_principal(ctx: Context, ho: Handout, u: UnwrapAttempt, requester: Who, account: str) -> None:
    who = u.who
    anomaly(ctx, AnomalyKind.UNWRAP_WRONG_PRINCIPAL, u.time, who, u.path,
            lambda: f"code of grant {ho.grant_id} (requested by {requester.name or requester.entity}) "
            f"{_took(u)} by {who.name or who.entity}"
            + (": they got a new wrapping token for the same code (its unwraps are listed with this reveal)"
               if u.path == REWRAP else ""),
            account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)


def _unattributed(ctx: Context, ho: Handout, u: UnwrapAttempt, account: str) -> None:
    def detail() -> str:
        who = u.who
        if u.self_unwrap:
            how = "with the wrapping token itself"
        elif who.entity or who.name:
            how = f"by {who.name or who.entity}, and the requester is not in the logs read"
        else:
            how = "by a token with no identity"
        return f"code of grant {ho.grant_id} {_took(u)} {how} from {u.remote or '?'}"

    anomaly(ctx, AnomalyKind.UNWRAP_UNATTRIBUTED, u.time, u.who, u.path, detail,
            account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)


def _failed_unwrap(ctx: Context, ho: Handout, u: UnwrapAttempt, error: str, account: str) -> None:
    anomaly(ctx, AnomalyKind.UNWRAP_FAILED, u.time, u.who, u.path,
            lambda: f"unwrap of grant {ho.grant_id}'s wrapping token failed: {error}; "
            f"caller token {u.token or '?'} from {u.remote or '?'}",
            account=account, grant_id=ho.grant_id, request_id=u.request_id, remote_address=u.remote)


def _status_anomaly(
    ctx: Context, ho: Handout, status: UnwrapStatus, oks: list[UnwrapAttempt], requester: Who, account: str
) -> None:
    if status is LATE:
        first_ok = oks[0]
        delay = (micros(first_ok.time) - micros(ho.time)) / 10**6  # as timedelta.total_seconds() has it
        anomaly(ctx, AnomalyKind.UNWRAP_LATE, first_ok.time, first_ok.who, first_ok.path,
                lambda: f"code of grant {ho.grant_id} {_took(first_ok)} {delay:.1f}s after hand-out "
                f"(threshold {ctx.late_after.total_seconds():.0f}s)",
                account=account, grant_id=ho.grant_id, request_id=first_ok.request_id,
                remote_address=first_ok.remote)
    elif status is NEVER:
        anomaly(ctx, AnomalyKind.NEVER_UNWRAPPED, ho.time, requester, f"{ctx.mount}/data/reveals/{ho.grant_id}",
                lambda: f"wrapping token of grant {ho.grant_id} (ttl {ho.ttl}s) was never unwrapped",
                account=account, grant_id=ho.grant_id, request_id=ho.request_id)


def _chain(unwraps: dict[str, list[UnwrapAttempt]], wrap: str) -> list[UnwrapAttempt]:
    """The attempts on a wrapping token, and on every wrapping token a successful rewrap of it handed out."""
    got = unwraps.get(wrap)
    if not got:
        return []
    if len(got) == 1 and not got[0].new_wrap:  # the usual: one unwrap
        return got
    got = list(got)
    seen = {wrap}
    i = 0
    while i < len(got):
        u = got[i]
        i += 1
        if u.new_wrap and u.ok and u.new_wrap not in seen:
            seen.add(u.new_wrap)
            got.extend(unwraps.get(u.new_wrap, ()))
    return got


def _took(u: UnwrapAttempt) -> str:
    if u.path == REWRAP:
        return "rewrapped"
    if u.path == CUBBYHOLE:
        return "unwrapped through cubbyhole/response"
    return "unwrapped"


def _verdict(u: UnwrapAttempt, requester: Who) -> UnwrapStatus:
    """Who took the code in one successful attempt: the requester, someone else, or nobody known."""
    if u.self_unwrap:
        return UNATTRIBUTED
    entity, name = u.who
    if not (entity or name):
        return UNATTRIBUTED
    if requester.entity and entity:
        same = entity == requester.entity
    elif requester.name and name:
        same = name == requester.name  # e.g. a root token: a name, no entity, and not the requester
    else:
        return UNATTRIBUTED  # the requester is not in the logs read
    return BY_REQUESTER if same else WRONG_PRINCIPAL


def _unwrap_status(
    ho: Handout,
    entries: list[GrantEntry],
    oks: list[UnwrapAttempt],
    verdicts: list[UnwrapStatus],
    log_end: str,
    late_us: int,
) -> UnwrapStatus:
    """The reveal's status from its successful attempts in time order (several only through rewraps) and their
    verdicts: the first that was not the requester's decides; if all were the requester's, the first one's delay
    (late past ``late_us`` microseconds). A token nobody unwrapped is revoked if the grant's writes say the service
    revoked it (``_revoked_by_service``), whatever its TTL."""
    if not oks:
        revoked = _revoked_by_service(ho, entries)
        if revoked is not None:
            return revoked
        expired = ho.ttl > 0 and log_end and micros(log_end) - micros(ho.time) > ho.ttl * 10**6
        return NEVER if expired else OUTSTANDING
    for verdict in verdicts:
        if verdict is not BY_REQUESTER:
            return verdict
    if micros(oks[0].time) - micros(ho.time) > late_us:
        return LATE
    return BY_REQUESTER


_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND_MICROS: dict[str, int] = {}


def micros(t: str) -> int:
    """A normalised time in microseconds since 1970, exactly as ``to_dt`` keeps it: the differences of two are
    those of their datetimes, at a fraction of the cost (the second is read once per second of log)."""
    second = _SECOND_MICROS.get(t[:19])
    if second is None:
        second = (to_dt(t[:19]) - _EPOCH) // _MICROSECOND
        if len(_SECOND_MICROS) > 4096:
            _SECOND_MICROS.clear()
        _SECOND_MICROS[t[:19]] = second
    return second + int(t[20:26])
