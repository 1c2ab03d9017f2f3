"""From a ``Partial`` to the ``Summary``: named stages over one ``Context``, pure code, no I/O.

State (grants, accounts, code counts) is rebuilt from every fact read, so that a reveal inside the window is
joined with a grant requested before it; figures, reveals and anomalies count only what happened in
``[since, until)``. The stages run in this order, each adding to the context:

1. ``input_warnings``: a log in which nothing of custody's was recognised, or with HMAC'd fields.
2. ``account_stage``: each account's latest owner, tier, approvals required and codes left; deposits and rotations.
3. ``grant_stage``: requests, approvals, denials and reviews per account and principal; denied grants; approvals by
   tokens without an identity; emergency grants without a review.
4. ``reveals.reveal_stage``: each hand-out joined with its grant and its unwraps.
5. ``denial_stage``: the refusals the custody API recorded.
6. ``touch_stage``: other tokens on the mount, its configuration and raw storage: setup, refusals, direct access.
7. ``assemble``: the summary, with what was counted but not listed.

Principals and accounts are registered in that order too, so when there are more than the summary lists, the
ones with custody activity are listed and the ones known only from refused calls are added up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from custody.auditlog.anomalies import classify_touch, setup_step
from custody.auditlog.context import Context, principal
from custody.auditlog.extract import norm_path
from custody.auditlog.facts import (
    DEFAULT_LATE_AFTER,
    DEPOSIT,
    MOUNT,
    ROTATION,
    TOKEN_IDENTITY,
    GrantEntry,
    Handout,
    Touch,
    UnwrapAttempt,
    Write,
)
from custody.auditlog.model import (
    AnomalyKind,
    Denial,
    InputStats,
    NotListed,
    SetupWrite,
    Summary,
    Totals,
    Window,
)
from custody.auditlog.partial import Partial
from custody.auditlog.reveals import anomaly, reveal_stage
from custody.auditlog.spill import FactStore
from custody.domain.events import Event


def correlate(
    part: Partial,
    *,
    mount: str = "custody-kv",
    service_role: str = "custody-service",
    since: str = "",
    until: str = "",
    late_after: timedelta = DEFAULT_LATE_AFTER,
    consume: bool = False,
) -> Summary:
    """Build the summary. ``since``/``until`` are normalised times (timeparse.norm_time) or ''.

    With ``consume`` the partial is emptied as its facts are used (less memory at the peak).
    """
    ctx = Context(part, mount, service_role, since, until, late_after, consume)
    ctx.duplicates = part.duplicates
    store = part.facts
    handouts = list(store.of_kind(Handout))
    input_warnings(ctx, len(handouts))
    account_stage(ctx)
    grant_stage(ctx)
    unwraps = load_unwraps(store, handouts)
    reveal_stage(ctx, handouts, unwraps)
    unwraps.clear()
    denial_stage(ctx, store)
    touch_stage(ctx, store)
    if consume:
        store.clear()
        part.grants.clear()
        part.accounts.clear()
        part.keys.clear()
        part.other_keys.clear()
        part.hmaced.clear()
    return assemble(ctx)


def input_warnings(ctx: Context, handouts: int) -> None:
    part = ctx.part
    writes = len(part.keys) + sum(len(h) for h in part.grants.values())
    if (not writes and not handouts and part.lines_total) or len(part.hmaced) * 2 > writes:
        # the refusals the service recorded count too, and may change the verdict: read them only then
        writes += sum(1 for w in part.facts.of_kind(Write) if w.ok)
    if not writes and not handouts and part.lines_total:
        # A typo in --mount or --service-role reads as a quiet, clean log: say that nothing was recognised.
        ctx.warnings.append(
            f"no write by the custody service ({ctx.service_role}) to {ctx.mount}/ is in these logs: if custody was "
            "used in this period, check --mount and --service-role, and that these are its Vault's audit logs"
        )
    if writes and len(part.hmaced) * 2 > writes:
        ctx.warnings.append(
            f"most custody writes have HMAC'd fields: tune {ctx.mount} with audit_non_hmac_request_keys "
            "(see docs/auditor-guide.md) or the summary cannot join grants and accounts"
        )


def account_stage(ctx: Context) -> None:
    """Latest state from every write; deposits and rotations in the window."""
    for name, st in ctx.part.accounts.items():
        counted = [kind for t, kind in st.events.values() if ctx.shown(t)]
        if not st.present and not counted:
            continue
        a = ctx.accounts[name]
        a.owner = st.owner[2] if st.owner else ""
        a.tier = st.tier[2] if st.tier else ""
        a.approvals_required = st.approvals_required[2] if st.approvals_required else 0
        a.remaining = st.remaining[2] if st.remaining else None
        a.deposits = counted.count(DEPOSIT)
        a.rotations = counted.count(ROTATION)


# plain str, compared per write (comparing with a StrEnum member, or reading one off its class, costs more)
GRANT_REQUESTED, GRANT_APPROVED = str(Event.grant_requested), str(Event.grant_approved)
GRANT_REVIEWED, GRANT_DENIED = str(Event.grant_reviewed), str(Event.grant_denied)
_COUNTED_GRANT_EVENTS = frozenset({GRANT_REQUESTED, GRANT_APPROVED, GRANT_REVIEWED, GRANT_DENIED})


def grant_stage(ctx: Context) -> None:
    """State from every write of each grant, figures from the writes in the window."""
    lo, hi = ctx.stamps_shown
    grant_accounts = ctx.grant_accounts
    for gid, entries in ctx.part.grants.items():
        entries.sort()  # by (time, request key): keys are unique within a grant
        grant_accounts[gid] = entries[-1].info.account
        emergency = reviewed = False
        info = None
        for e in entries:
            if e.info is not info:  # one GrantInfo is shared by the writes that leave its fields as they are
                info = e.info
                emergency = emergency or info.emergency
                reviewed = reviewed or bool(info.reviewed_by)
            if e.event in _COUNTED_GRANT_EVENTS and lo <= e.stamp < hi:
                _count_grant_event(ctx, gid, e)
        if emergency and not reviewed and lo <= entries[0].stamp < hi:
            _emergency_unreviewed(ctx, gid, entries)


def _emergency_unreviewed(ctx: Context, gid: str, entries: list[GrantEntry]) -> None:
    first, last = entries[0], entries[-1]
    anomaly(ctx, AnomalyKind.EMERGENCY_UNREVIEWED, first.time, first.info.requester, f"{ctx.mount}/data/grants/{gid}",
            lambda: f"emergency grant {gid} on {last.info.account} (status {last.status}) has no review in the logs "
            "read",
            account=last.info.account, grant_id=gid)


def _count_grant_event(ctx: Context, gid: str, e: GrantEntry) -> None:
    event, info = e.event, e.info
    actor = ctx.principals.get(e.actor)
    acct = ctx.accounts[info.account] if info.account else None
    if event == GRANT_REQUESTED:
        if acct:
            acct.requests += 1
        req = ctx.principals.get(info.requester)
        if req:
            req.requested.add(gid)
    elif event == GRANT_APPROVED:
        if acct:
            acct.approvals += 1
        if actor:
            actor.approved.add(gid)
        if e.actor.entity.startswith(TOKEN_IDENTITY):
            anomaly(ctx, AnomalyKind.APPROVAL_WITHOUT_IDENTITY, e.time, e.actor, f"{ctx.mount}/data/grants/{gid}",
                    lambda: f"grant {gid} on {info.account} (requested by "
                    f"{info.requester.name or info.requester.entity}) "
                    f"was approved by {e.actor.name or 'a token'} with no Vault identity (recorded as "
                    f"{e.actor.entity}, a digest of the token's accessor)",
                    account=info.account, grant_id=gid)
    elif event == GRANT_REVIEWED:
        if actor:
            actor.reviewed.add(gid)
    elif event == GRANT_DENIED:
        if acct:
            acct.grants_denied += 1
        if actor:
            actor.denied.add(gid)
        ctx.denials.append(
            Denial(time=e.time, account=info.account, grant_id=gid, requester=principal(info.requester),
                   reason=info.reason, ticket=info.ticket, denied_by=principal(e.actor), comment=info.denial[3])
        )


def load_unwraps(store: FactStore, handouts: list[Handout]) -> dict[str, list[UnwrapAttempt]]:
    """The attempts on the hand-outs' wrapping tokens, and on those successful rewraps of them handed out."""
    out: dict[str, list[UnwrapAttempt]] = {}
    wanted = {ho.wrap for ho in handouts}
    while wanted:
        got = store.unwraps(wanted)
        out.update(got)
        wanted = {u.new_wrap for us in got.values() for u in us if u.new_wrap and u.ok} - out.keys()
    return out


def denial_stage(ctx: Context, store: FactStore) -> None:
    """Refusals the custody API recorded (the only service writes kept whole)."""
    for w in store.of_kind(Write):
        if not w.ok or not ctx.shown(w.time):
            continue
        name = w.account or _api_account(w.denied_path, ctx.grant_accounts.get)
        if name:
            ctx.accounts.named(name).access_denied += 1
        actor = ctx.principals.get(w.actor)
        if actor:
            actor.access_denied += 1
        _api_refusal(ctx, w, name)


def _api_refusal(ctx: Context, w: Write, account: str) -> None:
    anomaly(ctx, AnomalyKind.PERMISSION_DENIED, w.time, w.actor, w.denied_path,
            lambda: f"custody API refused {w.denied_capability or 'a call'} on {w.denied_path} "
            f"(recorded by the service at {ctx.mount}/data/{w.path})",
            account=account, request_id=w.request_id, operation=w.denied_capability)


_PERMISSION_DENIED, _DIRECT_ACCESS = AnomalyKind.PERMISSION_DENIED, AnomalyKind.DIRECT_ACCESS


def touch_stage(ctx: Context, store: FactStore) -> None:
    """Other tokens' calls on the mount, its configuration and raw storage, oldest first."""
    for t in store.of_kind(Touch):
        if not ctx.shown(t.time):
            continue
        step = setup_step(t, ctx.mount)
        if step:
            ctx.setup.append(SetupWrite(time=t.time, principal=principal(t.who), path=t.path, operation=t.operation,
                                        what=step, request_id=t.request_id))
            continue
        verdict = classify_touch(t, ctx.mount)
        name = _mount_account(norm_path(t.path), ctx.mount, ctx.grant_accounts.get) if t.area == MOUNT else ""
        acc = ctx.principals.get(t.who)
        if verdict.kind is _PERMISSION_DENIED:
            if acc:
                acc.access_denied += 1
            if name:
                ctx.accounts.named(name).access_denied += 1
        elif verdict.kind is _DIRECT_ACCESS:
            ctx.direct += 1
            if acc:
                acc.direct += 1
        anomaly(ctx, verdict.kind, t.time, t.who, t.path, verdict.detail, verdict.severity, operation=t.operation,
                account=name, request_id=t.request_id, remote_address=t.remote, error=t.error.strip())


def assemble(ctx: Context) -> Summary:
    part = ctx.part
    if part.lines_invalid:
        ctx.warnings.append(f"{part.lines_invalid} line(s) were not audit entries and were skipped")
    anomalies, groups, total = ctx.anomalies()
    accounts = ctx.accounts.result()
    denied = sum(g.total for (kind, _), g in ctx.groups.items() if kind is AnomalyKind.PERMISSION_DENIED)
    not_listed = NotListed(anomalies=groups, principals=ctx.principals.unlisted(), accounts=ctx.accounts.unlisted())
    if not_listed.anomalies or not_listed.principals or not_listed.accounts:
        ctx.warnings.append(
            "this log holds more than the summary lists one by one: the rest is counted (in the report under "
            "'Counted, not listed one by one', in JSON under not_listed) and the totals stay exact"
        )
    totals = Totals(
        reveals=len(ctx.reveals),
        requests=sum(a.requests for a in accounts),
        approvals=sum(a.approvals for a in accounts),
        grants_denied=sum(a.grants_denied for a in accounts),
        access_denied=denied,
        deposits=sum(a.deposits for a in accounts),
        rotations=sum(a.rotations for a in accounts),
        direct_accesses=ctx.direct,
        anomalies=total,
    )
    return Summary(
        mount=ctx.mount,
        service_role=ctx.service_role,
        window=Window(since=ctx.since, until=ctx.until),
        input=InputStats(
            files=sorted(part.files),
            lines_total=part.lines_total,
            lines_custody=part.lines_custody,
            lines_invalid=part.lines_invalid,
            entries_duplicate=ctx.duplicates,
            first_entry=part.first,
            last_entry=part.last,
        ),
        totals=totals,
        accounts=accounts,
        principals=ctx.principals.result(),
        reveals=ctx.reveals,
        anomalies=anomalies,
        warnings=ctx.warnings,
        denials=sorted(ctx.denials, key=lambda d: (d.time, d.grant_id)),
        setup=ctx.setup,
        not_listed=not_listed,
    )


def _mount_account(path: str, mount: str, grant_account: Callable[[str], str | None]) -> str:
    """The account a custody-mount path is about, when the path says (or names a known grant)."""
    parts = path[len(mount) + 1 :].strip("/").split("/")
    if len(parts) < 3 or parts[0] not in ("data", "metadata"):
        return ""
    if parts[1] in ("accounts", "codes", "rotations") and len(parts) >= 4:
        return f"{parts[2]}/{parts[3]}"
    if parts[1] in ("grants", "reveals"):
        return grant_account(parts[2]) or ""
    return ""


def _api_account(api_path: str, grant_account: Callable[[str], str | None]) -> str:
    """``custody/accounts/pypi/acme/...`` -> ``pypi/acme``; ``custody/grants/<id>/...`` -> that grant's account."""
    parts = api_path.strip("/").split("/")
    for key, width in (("accounts", 2), ("codes", 2), ("grants", 1)):
        if key in parts:
            i = parts.index(key)
            if len(parts) > i + width:
                if key == "grants":
                    return grant_account(parts[i + 1]) or ""
                return "/".join(parts[i + 1 : i + 1 + width])
    return ""
