"""What the correlation stages share: the partial being read, the window, and the accumulators of the summary.

Everything that grows with what other people do (anomalies, principals, accounts named only in refused paths) is
kept to a bound here: past it, the anomalies of a kind and severity are counted with their first and last time and
their top offenders, and the figures of the principals and accounts not listed are added up, so that the summary
of any log fits in bounded memory, its totals stay exact, and the report says what it did not list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter

from custody.auditlog.facts import KEY_BITS, Who
from custody.auditlog.model import (
    AccountSummary,
    Anomaly,
    AnomalyGroup,
    AnomalyKind,
    Approval,
    Denial,
    Offender,
    Principal,
    PrincipalSummary,
    Reveal,
    SetupWrite,
    Severity,
    Unlisted,
)
from custody.auditlog.partial import Partial
from custody.auditlog.timeparse import in_window, time_int

LISTED_PER_GROUP = 500  # anomalies of one kind and severity listed one by one
LISTED_PRINCIPALS = 2_000  # principals listed one by one (those with custody activity come first)
LISTED_ACCOUNTS = 1_000  # accounts named only by refused or direct paths, listed one by one
OFFENDERS = 10  # top offenders shown per group of anomalies not listed
_SKETCH = 1_000  # principals counted exactly per group before the counts become lower bounds
_DISTINCT_MAX = 100_000  # unlisted principals and accounts counted one by one up to this
WHO_ROWS = 10_000  # Who -> listed principal's row, remembered for the next get

_PRINCIPALS: dict[Who, Principal] = {}


def principal(who: Who) -> Principal:
    """One frozen Principal per distinct Who (they repeat in every reveal and anomaly)."""
    p = _PRINCIPALS.get(who)
    if p is None:
        if len(_PRINCIPALS) > 100_000:
            _PRINCIPALS.clear()
        p = _PRINCIPALS[who] = Principal(entity_id=who.entity, display_name=who.name)
    return p


_APPROVALS: dict[tuple[str, str, str, str], Approval] = {}


def approval(a: tuple[str, str, str, str]) -> Approval:
    """One frozen Approval per distinct approval (a grant's approvals repeat in each of its reveals)."""
    got = _APPROVALS.get(a)
    if got is None:
        if len(_APPROVALS) > 100_000:
            _APPROVALS.clear()
        got = _APPROVALS[a] = Approval(approver=a[0], approver_entity=a[1], at=a[2], comment=a[3])
    return got


class Offenders:
    """Counts per principal, exact up to ``_SKETCH`` principals; past that a Misra-Gries summary, whose counts
    are lower bounds at most ``error`` below the truth (a principal behind more than 1/_SKETCH of the whole is
    always kept)."""

    def __init__(self) -> None:
        self.counts: dict[Who, int] = {}
        self.error = 0

    def add(self, who: Who) -> None:
        counts = self.counts
        counts[who] = counts.get(who, 0) + 1
        if len(counts) >= 2 * _SKETCH:
            cut = sorted(counts.values(), reverse=True)[_SKETCH]
            self.error += cut
            self.counts = {w: n - cut for w, n in counts.items() if n > cut}

    def top(self, n: int) -> list[Offender]:
        best = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [Offender(principal=principal(w), count=c, count_error=self.error) for w, c in best]


# The order anomalies are listed in: time, kind, request id, grant id (a kind is a StrEnum: it orders as its value).
# Within a group the kind is the same for all, so the group sorts without it.
_order = attrgetter("time", "kind", "request_id", "grant_id")
_order_in_group = attrgetter("time", "request_id", "grant_id")


@dataclass
class Group:
    """The anomalies of one kind and severity: the earliest listed, all counted."""

    total: int = 0
    first: str = ""
    last: str = ""
    listed: list[Anomaly] = field(default_factory=list)
    offenders: Offenders = field(default_factory=Offenders)
    # once the list is full: the order (``_order_in_group``) of the last anomaly it would keep. One that comes at
    # or after it is never listed (as many as are listed come before it, ties included), so it need not be built.
    cut: tuple[str, str, str] | None = None

    def count(self, time: str, who: Who) -> None:
        self.total += 1
        if not self.first or time < self.first:
            self.first = time
        if time > self.last:
            self.last = time
        self.offenders.add(who)

    def may_list(self, time: str, request_id: str, grant_id: str) -> bool:
        """Whether an anomaly counted with this order may be among those listed."""
        return self.cut is None or (time, request_id, grant_id) < self.cut

    def add_listed(self, a: Anomaly) -> None:
        listed = self.listed
        listed.append(a)
        if len(listed) >= 2 * LISTED_PER_GROUP:  # keep the earliest: sorted and cut now and then
            listed.sort(key=_order_in_group)
            del listed[LISTED_PER_GROUP:]
            self.cut = _order_in_group(listed[-1])
        elif len(listed) == LISTED_PER_GROUP and self.cut is None:  # full for the first time
            self.cut = max(map(_order_in_group, listed))

    def keep(self) -> list[Anomaly]:
        self.listed.sort(key=_order_in_group)
        del self.listed[LISTED_PER_GROUP:]
        return self.listed


@dataclass
class PrincipalAcc:
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


class Principals:
    """Per-principal figures, for at most ``LISTED_PRINCIPALS`` principals; the others' figures added up."""

    def __init__(self) -> None:
        self.by_key: dict[str, PrincipalAcc] = {}
        self.others = PrincipalAcc()
        self._other_keys: set[str] = set()
        self.others_more = False  # more unlisted principals than counted one by one
        # the listed row of each Who seen again (a second get of a listed Who changes nothing): bounded, since
        # one entity may come with any number of names
        self.memo: dict[Who, PrincipalAcc] = {}

    def get(self, who: Who) -> PrincipalAcc | None:
        acc = self.memo.get(who)
        if acc is not None:
            return acc
        acc = self._get(who)
        if acc is not None and acc is not self.others and len(self.memo) < WHO_ROWS:
            self.memo[who] = acc
        return acc

    def _get(self, who: Who) -> PrincipalAcc | None:
        if not who.entity and not who.name:
            return None
        key = who.entity or f"name:{who.name}"
        acc = self.by_key.get(key)
        if acc is None:
            if len(self.by_key) >= LISTED_PRINCIPALS:
                if len(self._other_keys) < _DISTINCT_MAX:
                    self._other_keys.add(key)
                else:
                    self.others_more = self.others_more or key not in self._other_keys
                return self.others
            acc = self.by_key[key] = PrincipalAcc()
        if who.name and len(acc.names) < 16:
            acc.names.add(who.name)
        return acc

    def unlisted(self) -> Unlisted | None:
        if not self._other_keys:
            return None
        o = self.others
        return Unlisted(count=len(self._other_keys), count_more=self.others_more, direct_accesses=o.direct,
                        access_denied=o.access_denied, anomalies=o.anomalies)

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


@dataclass
class AccountAcc:
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


class Accounts:
    """Per-account figures. Accounts the service wrote about always have a row; accounts named only in the paths
    of other people's calls (anyone can make those up) get one while there are fewer than ``LISTED_ACCOUNTS``."""

    def __init__(self) -> None:
        self.by_name: dict[str, AccountAcc] = {}
        self.known: set[str] = set()
        self.others = AccountAcc()
        self._other_names: set[str] = set()
        self.others_more = False
        self._named = 0

    def __getitem__(self, name: str) -> AccountAcc:
        """The row of an account the service's writes name."""
        acc = self.by_name.get(name)
        if acc is None:
            acc = self.by_name[name] = AccountAcc()
        return acc

    def named(self, name: str) -> AccountAcc:
        """The row of an account named only by a path someone called."""
        acc = self.by_name.get(name)
        if acc is not None:
            return acc
        if self._named < LISTED_ACCOUNTS:
            self._named += 1
            return self[name]
        if len(self._other_names) < _DISTINCT_MAX:
            self._other_names.add(name)
        else:
            self.others_more = self.others_more or name not in self._other_names
        return self.others

    def unlisted(self) -> Unlisted | None:
        if not self._other_names:
            return None
        return Unlisted(count=len(self._other_names), count_more=self.others_more,
                        access_denied=self.others.access_denied)

    def result(self) -> list[AccountSummary]:
        return [
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
            for name, a in sorted(self.by_name.items())
        ]


@dataclass
class Context:
    """The input and the accumulators of one correlation; each stage reads the former and adds to the latter."""

    part: Partial
    mount: str
    service_role: str
    since: str
    until: str
    late_after: timedelta
    consume: bool
    accounts: Accounts = field(default_factory=Accounts)
    principals: Principals = field(default_factory=Principals)
    groups: dict[tuple[AnomalyKind, Severity], Group] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reveals: list[Reveal] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    setup: list[SetupWrite] = field(default_factory=list)
    grant_accounts: dict[str, str] = field(default_factory=dict)  # grant id -> account, kept past the grants
    direct: int = 0
    duplicates: int = 0

    def __post_init__(self) -> None:
        since_t, until_t = time_int(self.since), time_int(self.until)
        # The window as bounds of a grant entry's stamp (time_int << KEY_BITS | key): shown if lo <= stamp < hi.
        # A time of 0 (none) is never shown; without an until, hi is above any stamp (times are below 10^23).
        self.stamps_shown = (max(since_t, 1) << KEY_BITS, until_t << KEY_BITS if self.until else 1 << 160)

    def shown(self, t: str) -> bool:
        """Whether a normalised time is in the window."""
        return in_window(t, self.since, self.until)

    def count_anomaly(self, kind: AnomalyKind, severity: Severity, time: str, who: Who) -> Group:
        """Count one anomaly, in its group and for its principal; the group says whether to list it."""
        key = (kind, severity)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group()
        group.count(time, who)
        acc = self.principals.get(who)
        if acc is not None:
            acc.anomalies += 1
        return group

    def anomalies(self) -> tuple[list[Anomaly], list[AnomalyGroup], int]:
        """The anomalies listed (oldest first), the groups with some not listed, and the total."""
        listed: list[Anomaly] = []
        groups: list[AnomalyGroup] = []
        total = 0
        for (kind, severity), g in sorted(self.groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)):
            total += g.total
            kept = g.keep()
            listed.extend(kept)
            if g.total > len(kept):
                groups.append(
                    AnomalyGroup(kind=kind, severity=severity, total=g.total, listed=len(kept), first_seen=g.first,
                                 last_seen=g.last, top_offenders=g.offenders.top(OFFENDERS), why=kept[0].why)
                )
        listed.sort(key=_order)
        return listed, groups, total
