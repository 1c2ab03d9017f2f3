"""From a ``Partial``'s facts to the ``Summary``: joins, per-account and per-principal figures, anomalies.
Pure code, no I/O. State (grants, accounts, code counts) is rebuilt from every fact read, so that a reveal
inside the window is joined with a grant requested before it; figures, reveals and anomalies count only what
happened in ``[since, until)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from custody.auditlog.facts import (
    ADMIN,
    CUBBYHOLE,
    DEPOSIT,
    KEY_BITS,
    MOUNT,
    RAW,
    REWRAP,
    ROTATION,
    GrantEntry,
    Handout,
    Partial,
    Touch,
    UnwrapAttempt,
    Who,
    Write,
    norm_path,
    time_int,
)
from custody.auditlog.model import (
    AccountSummary,
    Anomaly,
    AnomalyKind,
    Approval,
    InputStats,
    Principal,
    PrincipalSummary,
    Reveal,
    Severity,
    Summary,
    Totals,
    Unwrap,
    UnwrapStatus,
    Window,
    trusted,
)

DEFAULT_LATE_AFTER = timedelta(minutes=2)

WHY: dict[AnomalyKind, tuple[Severity, str]] = {
    AnomalyKind.DIRECT_ACCESS: (
        Severity.HIGH,
        "only the custody service's AppRole may touch the custody mount; any other token reaching it (or raw "
        "storage, sys/raw, which bypasses every mount) bypasses reasons, approvals and single use, and may have "
        "read recovery codes directly",
    ),
    AnomalyKind.PERMISSION_DENIED: (
        Severity.MEDIUM,
        "someone tried to do something on custody paths their policy does not allow: a mistake, a "
        "misconfigured role, or probing",
    ),
    AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT: (
        Severity.CRITICAL,
        "a recovery code left the vault without an approved grant: the approval control was bypassed "
        "(service bug or compromise of the service's credentials)",
    ),
    AnomalyKind.UNWRAP_WRONG_PRINCIPAL: (
        Severity.CRITICAL,
        "the code was unwrapped by someone other than the requester: the wrapping token was intercepted or "
        "passed on, and that person now holds a recovery code",
    ),
    AnomalyKind.UNWRAP_UNATTRIBUTED: (
        Severity.HIGH,
        "the code was unwrapped with the wrapping token itself (sys/wrapping/unwrap or a read of "
        "cubbyhole/response), or by a token with no identity, so nobody can say who holds it; the custody CLI "
        "always unwraps with the requester's own token",
    ),
    AnomalyKind.UNWRAP_LATE: (
        Severity.MEDIUM,
        "the custody CLI unwraps at once; a late unwrap means the wrapping token sat somewhere (a terminal "
        "log, a chat) where others could have seen it",
    ),
    AnomalyKind.UNWRAP_FAILED: (
        Severity.HIGH,
        "an unwrap of a custody wrapping token failed: it was already used or expired. If the requester "
        "failed, someone else may have unwrapped the code first (the classic sign of interception)",
    ),
    AnomalyKind.NEVER_UNWRAPPED: (
        Severity.LOW,
        "a code was handed out but its wrapping token expired unused: the requester never got the code, or "
        "got it by another way; check with the requester",
    ),
    AnomalyKind.EMERGENCY_UNREVIEWED: (
        Severity.HIGH,
        "an emergency grant skipped approval and has not been reviewed afterwards, as break-glass use must be",
    ),
    AnomalyKind.MOUNT_ADMIN: (
        Severity.MEDIUM,
        "the custody mount's configuration changed, or a mount was moved: a tune can make the audit log show "
        "codes in clear or hide fields from it, disabling the mount deletes every code, and a moved mount "
        "puts the codes under a path nobody watches",
    ),
}


def to_dt(t: str) -> datetime:
    """Parse a normalised time (see facts.norm_time) to an aware datetime (microsecond precision)."""
    return datetime.fromisoformat(t[:26]).replace(tzinfo=UTC)


_PRINCIPALS: dict[Who, Principal] = {}


def _p(who: Who) -> Principal:
    """One frozen Principal per distinct Who (they repeat in every reveal and anomaly)."""
    p = _PRINCIPALS.get(who)
    if p is None:
        if len(_PRINCIPALS) > 100_000:
            _PRINCIPALS.clear()
        p = _PRINCIPALS[who] = trusted(Principal, entity_id=who.entity, display_name=who.name)
    return p


_APPROVALS: dict[tuple[str, str, str, str], Approval] = {}


def _approval(a: tuple[str, str, str, str]) -> Approval:
    """One frozen Approval per distinct approval (a grant's approvals repeat in each of its reveals)."""
    got = _APPROVALS.get(a)
    if got is None:
        if len(_APPROVALS) > 100_000:
            _APPROVALS.clear()
        got = _APPROVALS[a] = trusted(Approval, approver=a[0], approver_entity=a[1], at=a[2], comment=a[3])
    return got


def _mount_account(path: str, mount: str, grant_account: Callable[[str], str]) -> str:
    """The account a custody-mount path is about, when the path says (or names a known grant)."""
    parts = path[len(mount) + 1 :].strip("/").split("/")
    if len(parts) < 3 or parts[0] not in ("data", "metadata"):
        return ""
    if parts[1] in ("accounts", "codes", "rotations") and len(parts) >= 4:
        return f"{parts[2]}/{parts[3]}"
    if parts[1] in ("grants", "reveals"):
        return grant_account(parts[2])
    return ""


def _api_account(api_path: str, grant_account: Callable[[str], str]) -> str:
    """``custody/accounts/pypi/acme/...`` -> ``pypi/acme``; ``custody/grants/<id>/...`` -> that grant's account."""
    parts = api_path.strip("/").split("/")
    for key, width in (("accounts", 2), ("codes", 2), ("grants", 1)):
        if key in parts:
            i = parts.index(key)
            if len(parts) > i + width:
                if key == "grants":
                    return grant_account(parts[i + 1])
                return "/".join(parts[i + 1 : i + 1 + width])
    return ""


@dataclass
class _PrincipalAcc:
    names: set[str] = field(default_factory=set)
    requested: set[str] = field(default_factory=set)
    approved: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    revealed: set[str] = field(default_factory=set)
    reviewed: set[str] = field(default_factory=set)
    unwrapped: int = 0
    direct: int = 0
    access_denied: int = 0
    anomalies: int = 0


@dataclass
class _AccountAcc:
    owner: str = ""
    tier: str = ""
    approvals_required: int = 0
    requests: int = 0
    approvals: int = 0
    grants_denied: int = 0
    access_denied: int = 0
    deposits: int = 0
    rotations: int = 0
    remaining: int | None = None
    reveals: list[Reveal] = field(default_factory=list)


class _Principals:
    def __init__(self) -> None:
        self.by_key: dict[str, _PrincipalAcc] = defaultdict(_PrincipalAcc)

    def get(self, who: Who) -> _PrincipalAcc | None:
        if not who.entity and not who.name:
            return None
        acc = self.by_key[who.entity or f"name:{who.name}"]
        if who.name:
            acc.names.add(who.name)
        return acc

    def result(self) -> list[PrincipalSummary]:
        out = []
        for key, a in self.by_key.items():
            names = sorted(a.names, key=lambda n: (not n.startswith(("userpass-", "oidc-", "ldap-")), n))
            entity = "" if key.startswith("name:") else key
            out.append(
                PrincipalSummary(
                    principal=Principal(entity_id=entity, display_name=names[0] if names else ""),
                    other_names=names[1:],
                    requested=sorted(a.requested),
                    approved=sorted(a.approved),
                    denied=sorted(a.denied),
                    revealed=sorted(a.revealed),
                    reviewed=sorted(a.reviewed),
                    unwrapped=a.unwrapped,
                    direct_accesses=a.direct,
                    access_denied=a.access_denied,
                    anomalies=a.anomalies,
                )
            )
        return sorted(out, key=lambda p: (p.principal.display_name, p.principal.entity_id))


def _in(t: str, since: str, until: str) -> bool:
    return bool(t) and (not since or t >= since) and (not until or t < until)


_COUNTED_GRANT_EVENTS = frozenset({"grant.requested", "grant.approved", "grant.reviewed", "grant.denied"})


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
    """Build the summary. ``since``/``until`` are normalised times (facts.norm_time) or ''.

    With ``consume`` the partial's fact index is emptied once the facts are sorted out (less memory).
    """
    handouts: list[Handout] = []
    unwraps: dict[str, list[UnwrapAttempt]] = defaultdict(list)
    touches: list[Touch] = []
    denials: list[Write] = []
    duplicates = part.duplicates
    for f in part.facts.values():
        if isinstance(f, Write):
            if f.ok:
                denials.append(f)  # the only writes kept whole: refusals the service recorded
        elif isinstance(f, Handout):
            handouts.append(f)
        elif isinstance(f, UnwrapAttempt):
            unwraps[f.wrap].append(f)
        else:
            touches.append(f)
    if consume:
        part.facts.clear()
        part.both.clear()
    handouts.sort(key=lambda h: (h.time, h.request_id))
    touches.sort(key=lambda t: (t.time, t.request_id))
    denials.sort(key=lambda w: (w.time, w.request_id))

    accounts: dict[str, _AccountAcc] = defaultdict(_AccountAcc)
    principals = _Principals()
    anomalies: list[Anomaly] = []
    warnings: list[str] = []

    def anomaly(
        kind: AnomalyKind,
        time: str,
        who: Who,
        path: str,
        detail: str,
        severity: Severity | None = None,
        *,
        operation: str = "",
        account: str = "",
        grant_id: str = "",
        request_id: str = "",
        remote_address: str = "",
        error: str = "",
    ) -> None:
        sev, why = WHY[kind]
        anomalies.append(
            trusted(
                Anomaly,
                kind=kind,
                severity=severity or sev,
                time=time,
                principal=_p(who),
                path=path,
                operation=operation,
                account=account,
                grant_id=grant_id,
                request_id=request_id,
                remote_address=remote_address,
                error=error,
                detail=detail,
                why=why,
            )
        )
        acc = principals.get(who)
        if acc is not None:
            acc.anomalies += 1

    writes = len(part.keys) + sum(len(h) for h in part.grants.values()) + len(denials)
    if not writes and not handouts and part.lines_total:
        # A typo in --mount or --service-role reads as a quiet, clean log: say that nothing was recognised.
        warnings.append(
            f"no write by the custody service ({service_role}) to {mount}/ is in these logs: if custody was used "
            "in this period, check --mount and --service-role, and that these are its Vault's audit logs"
        )
    if writes and len(part.hmaced) * 2 > writes:
        warnings.append(
            f"most custody writes have HMAC'd fields: tune {mount} with audit_non_hmac_request_keys "
            "(see docs/auditor-guide.md) or the summary cannot join grants and accounts"
        )

    # --- accounts: latest state from every write, deposits and rotations in the window --------------------
    for name, st in part.accounts.items():
        counted = [kind for t, kind in st.events.values() if _in(t, since, until)]
        if not st.present and not counted:
            continue
        a = accounts[name]
        a.owner = st.owner[2] if st.owner else ""
        a.tier = st.tier[2] if st.tier else ""
        a.approvals_required = st.approvals_required[2] if st.approvals_required else 0
        a.remaining = st.remaining[2] if st.remaining else None
        a.deposits = counted.count(DEPOSIT)
        a.rotations = counted.count(ROTATION)

    # --- grants: state from every write, figures from writes in the window --------------------------------
    since_t, until_t = time_int(since), time_int(until)

    def in_window(t: int) -> bool:
        return bool(t) and (not since or t >= since_t) and (not until or t < until_t)

    grants = part.grants
    unreviewed: list[tuple[str, list[GrantEntry]]] = []
    for gid, entries in grants.items():
        entries.sort()  # by (time, request key): keys are unique within a grant
        for e in entries:
            event = e.event
            if event not in _COUNTED_GRANT_EVENTS or not in_window(e.stamp >> KEY_BITS):
                continue  # revealing/revealed/expired/revoked: state only
            actor = principals.get(e.actor)
            acct = accounts[e.info.account] if e.info.account else None
            if event == "grant.requested":
                if acct:
                    acct.requests += 1
                req = principals.get(e.info.requester)
                if req:
                    req.requested.add(gid)
            elif event == "grant.approved":
                if acct:
                    acct.approvals += 1
                if actor:
                    actor.approved.add(gid)
            elif event == "grant.reviewed":
                if actor:
                    actor.reviewed.add(gid)
            elif event == "grant.denied":
                if acct:
                    acct.grants_denied += 1
                if actor:
                    actor.denied.add(gid)
        if (
            in_window(entries[0].stamp >> KEY_BITS)
            and any(e.info.emergency for e in entries)
            and not any(e.info.reviewed_by for e in entries)
        ):
            unreviewed.append((gid, entries))

    def grant_account(grant_id: str) -> str:
        h = grants.get(grant_id)
        return h[-1].info.account if h else ""

    # The accounts that refusals and touches name through a grant id, looked up now: the reveals below free
    # each grant's entries once its last reveal is built.
    denial_accounts = [w.account or _api_account(w.denied_path, grant_account) for w in denials]
    touch_accounts = [
        _mount_account(norm_path(t.path), mount, grant_account) if t.area == MOUNT else "" for t in touches
    ]

    # --- reveals ------------------------------------------------------------------------------------------
    # With ``consume``, each grant's entries, each wrapping token's unwraps and each hand-out are freed as soon
    # as their last reveal is built: the reveals take their place in memory instead of adding to it.
    reveals: list[Reveal] = []
    grant_uses: Counter[str] = Counter(ho.grant_id for ho in handouts) if consume else Counter()
    wrap_uses: Counter[str] = Counter(ho.wrap for ho in handouts) if consume else Counter()
    no_entries: list[GrantEntry] = []
    handouts.reverse()  # popped from the end: oldest first, each hand-out freed once its reveal is built
    while handouts:
        ho = handouts.pop()
        shown = _in(ho.time, since, until)
        entries = grants.get(ho.grant_id, no_entries)
        raw_attempts = _chain(unwraps, ho.wrap)
        if consume:
            grant_uses[ho.grant_id] -= 1
            if not grant_uses[ho.grant_id]:
                grants.pop(ho.grant_id, None)
            wrap_uses[ho.wrap] -= 1
            if not wrap_uses[ho.wrap]:
                unwraps.pop(ho.wrap, None)
        if not shown:
            continue
        at: GrantEntry | None = None  # the grant's last write at or before the hand-out
        ever_approved = False
        ho_t = time_int(ho.time)
        for e in entries:
            if e.stamp >> KEY_BITS > ho_t:
                break
            at = e
            if e.status == "approved":
                ever_approved = True
        last = entries[-1] if entries else None
        info = last.info if last is not None else None
        requester = info.requester if info is not None else Who("", "")
        account = info.account if info is not None else ""
        attempts = sorted(raw_attempts, key=lambda u: (u.time, u.request_id))
        path = f"{mount}/data/reveals/{ho.grant_id}"
        # Allowed: approved at some point, and at the hand-out either still approved or claimed for this reveal
        # (the service marks the grant revealed before it wraps the code; a reveal that stopped half-way is
        # resumed with a new wrapping token, so a second hand-out can be legitimate).
        if at is None or at.status not in ("approved", "revealed") or not ever_approved:
            detail = (
                f"grant {ho.grant_id} was {at.status!r} when its code was handed out"
                + ("" if ever_approved else " and had never been approved")
                if at is not None
                else f"no write of grant {ho.grant_id} precedes the hand-out in the logs read"
            )
            anomaly(
                AnomalyKind.HANDOUT_WITHOUT_APPROVED_GRANT,
                ho.time,
                requester if info is not None else ho.who,
                path,
                detail,
                account=account,
                grant_id=ho.grant_id,
                request_id=ho.request_id,
            )
        oks = [u for u in attempts if u.ok]
        status = _unwrap_status(ho, oks, requester, part.last, late_after)
        for u in oks:  # one, unless rewraps handed the code on in new wrapping tokens
            who = u.who
            verdict = _verdict(u, requester)
            if verdict is UnwrapStatus.WRONG_PRINCIPAL:
                anomaly(
                    AnomalyKind.UNWRAP_WRONG_PRINCIPAL,
                    u.time,
                    who,
                    u.path,
                    f"code of grant {ho.grant_id} (requested by {requester.name or requester.entity}) "
                    f"{_took(u)} by {who.name or who.entity}"
                    + (
                        ": they got a new wrapping token for the same code (its unwraps are listed with this reveal)"
                        if u.path == REWRAP
                        else ""
                    ),
                    account=account,
                    grant_id=ho.grant_id,
                    request_id=u.request_id,
                    remote_address=u.remote,
                )
            elif verdict is UnwrapStatus.UNATTRIBUTED:
                if u.self_unwrap:
                    how = "with the wrapping token itself"
                elif who.entity or who.name:
                    how = f"by {who.name or who.entity}, and the requester is not in the logs read"
                else:
                    how = "by a token with no identity"
                anomaly(
                    AnomalyKind.UNWRAP_UNATTRIBUTED,
                    u.time,
                    who,
                    u.path,
                    f"code of grant {ho.grant_id} {_took(u)} {how} from {u.remote or '?'}",
                    account=account,
                    grant_id=ho.grant_id,
                    request_id=u.request_id,
                    remote_address=u.remote,
                )
            if u.path != REWRAP:  # a rewrap only passes the code on
                acc = principals.get(who)
                if acc is not None:
                    acc.unwrapped += 1
        if status is UnwrapStatus.LATE:
            first_ok = oks[0]
            delay = to_dt(first_ok.time) - to_dt(ho.time)
            anomaly(
                AnomalyKind.UNWRAP_LATE,
                first_ok.time,
                first_ok.who,
                first_ok.path,
                f"code of grant {ho.grant_id} {_took(first_ok)} {delay.total_seconds():.1f}s after hand-out "
                f"(threshold {late_after.total_seconds():.0f}s)",
                account=account,
                grant_id=ho.grant_id,
                request_id=first_ok.request_id,
                remote_address=first_ok.remote,
            )
        elif status is UnwrapStatus.NEVER:
            anomaly(
                AnomalyKind.NEVER_UNWRAPPED,
                ho.time,
                requester,
                path,
                f"wrapping token of grant {ho.grant_id} (ttl {ho.ttl}s) was never unwrapped",
                account=account,
                grant_id=ho.grant_id,
                request_id=ho.request_id,
            )
        for u in attempts:
            if not u.ok:
                anomaly(
                    AnomalyKind.UNWRAP_FAILED,
                    u.time,
                    u.who,
                    u.path,
                    f"unwrap of grant {ho.grant_id}'s wrapping token failed: {u.error.strip()}; "
                    f"caller token {u.token or '?'} from {u.remote or '?'}",
                    account=account,
                    grant_id=ho.grant_id,
                    request_id=u.request_id,
                    remote_address=u.remote,
                )
        state = at or last
        approvers = [_approval(a) for a in (state.approvals if state is not None else ())]
        rv = trusted(
            Reveal,
            time=ho.time,
            request_id=ho.request_id,
            account=account,
            grant_id=ho.grant_id,
            requester=_p(requester),
            reason=info.reason if info is not None else "",
            ticket=info.ticket if info is not None else "",
            emergency=bool(info is not None and info.emergency),
            approvers=approvers,
            grant_status_at_handout=at.status if at is not None else "",
            wrap_ttl_seconds=ho.ttl,
            unwrap_status=status,
            unwraps=[
                trusted(
                    Unwrap,
                    time=u.time,
                    principal=_p(u.who),
                    ok=u.ok,
                    error=u.error.strip(),
                    request_id=u.request_id,
                    remote_address=u.remote,
                    path=u.path,
                )
                for u in attempts
            ],
        )
        reveals.append(rv)
        if account:
            accounts[account].reveals.append(rv)
        req_acc = principals.get(requester)
        if req_acc is not None:
            req_acc.revealed.add(ho.grant_id)
    handouts.clear()

    # --- refusals the service recorded --------------------------------------------------------------------
    for w, acct_name in zip(denials, denial_accounts, strict=True):
        if not _in(w.time, since, until):
            continue
        if acct_name:
            accounts[acct_name].access_denied += 1
        actor = principals.get(w.actor)
        if actor:
            actor.access_denied += 1
        anomaly(
            AnomalyKind.PERMISSION_DENIED,
            w.time,
            w.actor,
            w.denied_path,
            f"custody API refused {w.denied_capability or 'a call'} on {w.denied_path} "
            f"(recorded by the service at {mount}/data/{w.path})",
            account=acct_name,
            request_id=w.request_id,
            operation=w.denied_capability,
        )
    denials.clear()

    # --- direct touches of the mount ----------------------------------------------------------------------
    direct = 0
    for t, acct_name in zip(touches, touch_accounts, strict=True):
        if not _in(t.time, since, until):
            continue
        acc = principals.get(t.who)
        who_txt = t.who.name or t.who.entity or "a token with no identity"
        severity: Severity | None = None
        if t.area == ADMIN:
            kind = AnomalyKind.MOUNT_ADMIN
            detail, severity = _admin_detail(t, who_txt, mount)
        elif t.area == MOUNT and norm_path(t.path) == f"{mount}/config" and "permission denied" not in t.error:
            # The KV engine's settings, not a record: reading them shows no code (bootstrap reads them on every
            # run); changing them can turn off check-and-set or version limits.
            kind = AnomalyKind.MOUNT_ADMIN
            reads = t.operation == "read"
            severity = Severity.LOW if reads else Severity.HIGH
            detail = (f"{who_txt} {'read' if reads else f'ran {t.operation} on'} the custody mount's KV settings "
                      f"({t.path}){'' if reads else ': check-and-set and version limits protect every code'}")
            if t.error:
                detail += f"; error: {t.error.strip()}"
        elif "permission denied" in t.error:
            kind = AnomalyKind.PERMISSION_DENIED
            detail = f"{who_txt} was refused {t.operation} on {t.path} by Vault policy"
            if acc:
                acc.access_denied += 1
            if acct_name:
                accounts[acct_name].access_denied += 1
        else:
            kind = AnomalyKind.DIRECT_ACCESS
            if t.area == RAW:
                severity = Severity.CRITICAL
                detail = (
                    f"{who_txt} (policies {', '.join(t.policies) or 'none'}) ran {t.operation} on {t.path}: raw "
                    "storage, below every mount and its policies, answers with what is stored in plain text "
                    "(recovery codes, under the custody mount's storage); the log does not say which mount a raw "
                    "path belongs to: match the uuid after logical/ with `bao secrets list -detailed`"
                )
            else:
                if "root" in t.policies:
                    severity = Severity.CRITICAL
                detail = f"{who_txt} (policies {', '.join(t.policies) or 'none'}) ran {t.operation} on {t.path} "
                detail += "directly, not through the custody service"
            if t.error:
                detail += f"; error: {t.error.strip()}"
            direct += 1
            if acc:
                acc.direct += 1
        anomaly(
            kind,
            t.time,
            t.who,
            t.path,
            detail,
            severity,
            operation=t.operation,
            account=acct_name,
            request_id=t.request_id,
            remote_address=t.remote,
            error=t.error.strip(),
        )

    touches.clear()

    # --- emergency grants never reviewed ------------------------------------------------------------------
    for gid, h in unreviewed:
        first, last_entry = h[0], h[-1]
        anomaly(
            AnomalyKind.EMERGENCY_UNREVIEWED,
            first.time,
            first.info.requester,
            f"{mount}/data/grants/{gid}",
            f"emergency grant {gid} on {last_entry.info.account} (status {last_entry.status}) has no "
            f"review in the logs read",
            account=last_entry.info.account,
            grant_id=gid,
        )
    unreviewed.clear()

    unwraps.clear()
    if consume:
        grants.clear()
        part.accounts.clear()
        part.keys.clear()
        part.other_keys.clear()
        part.hmaced.clear()

    if part.lines_invalid:
        warnings.append(f"{part.lines_invalid} line(s) were not audit entries and were skipped")

    anomalies.sort(key=lambda a: (a.time, a.kind.value, a.request_id, a.grant_id))
    account_list = [
        AccountSummary(
            account=name,
            owner=a.owner,
            tier=a.tier,
            approvals_required=a.approvals_required,
            requests=a.requests,
            approvals=a.approvals,
            grants_denied=a.grants_denied,
            access_denied=a.access_denied,
            deposits=a.deposits,
            rotations=a.rotations,
            codes_remaining=a.remaining,
            reveals=a.reveals,
        )
        for name, a in sorted(accounts.items())
    ]
    totals = Totals(
        reveals=len(reveals),
        requests=sum(a.requests for a in account_list),
        approvals=sum(a.approvals for a in account_list),
        grants_denied=sum(a.grants_denied for a in account_list),
        access_denied=sum(1 for a in anomalies if a.kind is AnomalyKind.PERMISSION_DENIED),
        deposits=sum(a.deposits for a in account_list),
        rotations=sum(a.rotations for a in account_list),
        direct_accesses=direct,
        anomalies=len(anomalies),
    )
    return Summary(
        mount=mount,
        service_role=service_role,
        window=Window(since=since, until=until),
        input=InputStats(
            files=sorted(part.files),
            lines_total=part.lines_total,
            lines_custody=part.lines_custody,
            lines_invalid=part.lines_invalid,
            entries_duplicate=duplicates,
            first_entry=part.first,
            last_entry=part.last,
        ),
        totals=totals,
        accounts=account_list,
        principals=principals.result(),
        reveals=reveals,
        anomalies=anomalies,
        warnings=warnings,
    )


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


def _unwrap_status(
    ho: Handout, oks: list[UnwrapAttempt], requester: Who, log_end: str, late_after: timedelta
) -> UnwrapStatus:
    """The reveal's status from its successful attempts in time order (several only through rewraps): the first
    that was not the requester's decides; if all were the requester's, the first one's delay."""
    if not oks:
        expired = ho.ttl > 0 and log_end and to_dt(log_end) - to_dt(ho.time) > timedelta(seconds=ho.ttl)
        return UnwrapStatus.NEVER if expired else UnwrapStatus.OUTSTANDING
    for u in oks:
        verdict = _verdict(u, requester)
        if verdict is not UnwrapStatus.BY_REQUESTER:
            return verdict
    if to_dt(oks[0].time) - to_dt(ho.time) > late_after:
        return UnwrapStatus.LATE
    return UnwrapStatus.BY_REQUESTER


def _admin_detail(t: Touch, who: str, mount: str) -> tuple[str, Severity | None]:
    """What a change of mount configuration did, and how bad it is (None: the kind's own severity)."""
    path = norm_path(t.path)
    did = f"{t.operation} on {t.path}"
    if t.error:  # refused or failed: nothing changed, but someone tried
        return f"{who} tried {did}; error: {t.error.strip()}", None
    if path == "sys/remount" or path.startswith("sys/remount/"):
        if t.note:  # from and to in clear (not HMAC'd)
            src, _, dst = t.note.removeprefix("from ").partition(" to ")
            ours = mount in (norm_path(src), norm_path(dst))
            return f"{who} moved the mount {src} to {dst} ({did})", Severity.HIGH if ours else None
        return (
            f"{who} moved a mount ({did}). Vault HMACs the request's from and to in the audit log, so this may or "
            f"may not be the custody mount {mount}: check that `bao secrets list` still shows {mount}/, or hash "
            f"'{mount}/' with sys/audit-hash and compare with request.data.from and .to",
            Severity.HIGH,
        )
    if path.endswith("/tune"):
        return (
            f"{who} tuned the custody mount ({did}): a tune can add code or codes to audit_non_hmac_request_keys "
            "or audit_non_hmac_response_keys, so that recovery codes are written in clear to the audit log, or "
            f"change what the log shows; check `bao read sys/mounts/{mount}/tune`",
            Severity.CRITICAL,
        )
    if t.operation == "delete":
        return f"{who} disabled the custody mount ({did}): every code in it is deleted", Severity.HIGH
    return f"{who} ran {did}", None
