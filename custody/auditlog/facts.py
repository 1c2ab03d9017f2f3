"""From audit entries to facts, and the mergeable accumulator that holds them.
An audit entry that matters to custody becomes one small immutable *fact* keyed by ``request.id``. The
request and the response entry of one call, and the copies of one call in several cluster nodes' logs, all
land on the same key; the response wins over the request (it knows the outcome). ``Partial`` is therefore a
pure function of the *set* of lines read, so the partials of any split of the input merge to the partial of
the whole (see ``Partial.merge``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

REQUEST, RESPONSE = 1, 2  # ranks: a response entry knows more than its request entry


class Who(NamedTuple):
    """A principal as the audit log names it: identity entity id and token display name."""

    entity: str
    name: str


class GrantState(NamedTuple):
    grant_id: str
    account: str
    requester: Who
    reason: str
    ticket: str
    status: str
    approvals: tuple[tuple[str, str, str, str], ...]  # (approver, approver_entity, at, comment)
    emergency: bool
    reviewed_by: str


class Write(NamedTuple):
    """A KV write the custody service made, or tried to (``ok`` False: the response carries an error)."""

    rank: int
    time: str
    request_id: str
    path: str  # below <mount>/data/
    ok: bool
    event: str
    actor: Who
    account: str
    grant: GrantState | None
    remaining: int  # -1: not stated
    owner: str
    tier: str
    approvals_required: int
    denied_path: str
    denied_capability: str


class Handout(NamedTuple):
    """The service's wrapped read of ``reveals/<grant_id>``: a code left the vault in a wrapping token."""

    rank: int
    time: str
    request_id: str
    grant_id: str
    wrap: str  # HMAC of the wrapping token
    ttl: int
    who: Who


class UnwrapAttempt(NamedTuple):
    rank: int
    time: str
    request_id: str
    wrap: str  # HMAC of the wrapping token presented
    who: Who
    self_unwrap: bool  # presented the wrapping token itself as X-Vault-Token: nobody to attribute it to
    token: str  # HMAC of the client token, for tracing an attempt that carries no identity
    ok: bool
    error: str
    remote: str


class Touch(NamedTuple):
    """Anything but the service on the custody mount, or a change to the mount's configuration."""

    rank: int
    time: str
    request_id: str
    path: str
    operation: str
    who: Who
    policies: tuple[str, ...]
    error: str
    remote: str
    admin: bool


Fact = Write | Handout | UnwrapAttempt | Touch


def norm_time(value: object) -> str:
    """RFC 3339 time as fixed-width UTC nanoseconds, so string order is time order ('' if unusable)."""
    if type(value) is not str or len(value) < 20:
        return ""
    if len(value) == 30 and value[19] == "." and value[-1] == "Z" and value[10] == "T":
        return value  # already nanoseconds in UTC: what Vault writes, unless trailing zeros were trimmed
    if value[-1] == "Z" and value[10] == "T" and (value[19] == "." or len(value) == 20):
        frac = value[20:-1]
        if frac.isdigit() or not frac:
            return f"{value[:19]}.{frac[:9].ljust(9, '0')}Z"
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


def _s(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object, default: int = -1) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Extractor:
    """Turns one parsed audit entry into at most one fact, for a given mount and service AppRole role."""

    def __init__(self, mount: str = "custody-kv", service_role: str = "custody-service") -> None:
        self.mount = mount.strip("/")
        self.prefix = self.mount + "/"
        self.ui_prefix = "sys/internal/ui/mounts/" + self.prefix
        self.data_prefix = self.prefix + "data/"
        self.reveals_prefix = self.data_prefix + "reveals/"
        self.admin_paths = (f"sys/mounts/{self.mount}", f"sys/mounts/{self.mount}/tune", "sys/remount")
        self.service_role = service_role
        # Values repeat across facts (event names, accounts, principals, a grant's reason in each of its
        # writes): keeping one copy of each keeps memory proportional to the distinct values, not the entries.
        self._strs: dict[str, str] = {}
        self._whos: dict[tuple[str, str], Who] = {}
        self._apps: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}

    def _i(self, value: object) -> str:
        return self._strs.setdefault(value, value) if type(value) is str else ""

    def _w(self, entity: object, name: object) -> Who:
        key = (self._i(entity), self._i(name))
        who = self._whos.get(key)
        if who is None:
            who = self._whos[key] = Who(*key)
        return who

    def _grant(self, data: dict[str, Any], grant_id: str) -> GrantState:
        i = self._i
        approvals: list[tuple[str, str, str, str]] = []
        raw = data.get("approvals")
        if isinstance(raw, list):
            for a in raw:
                if isinstance(a, dict):
                    t = (i(a.get("approver")), i(a.get("approver_entity")), i(a.get("at")), i(a.get("comment")))
                    approvals.append(self._apps.setdefault(t, t))
        emergency = data.get("emergency")
        return GrantState(
            grant_id=i(data.get("grant_id")) or i(grant_id),
            account=i(data.get("account")),
            requester=self._w(data.get("requester_entity"), data.get("requester")),
            reason=i(data.get("reason")),
            ticket=i(data.get("ticket")),
            status=i(data.get("status")),
            approvals=tuple(approvals),
            emergency=emergency is True or emergency == "true",
            reviewed_by=i(data.get("reviewed_by")),
        )

    def is_service(self, auth: dict[str, Any]) -> bool:
        meta = auth.get("metadata")
        return (
            auth.get("display_name") == "approle"
            and isinstance(meta, dict)
            and meta.get("role_name") == self.service_role
        )

    def fact(self, e: dict[str, Any], time: str | None = None) -> Fact | None:
        """The fact an entry holds, if any; ``time`` is the entry's normalised time when already known."""
        req = e.get("request")
        if not isinstance(req, dict):
            return None
        path = req.get("path")
        rid = req.get("id")
        if not isinstance(path, str) or not isinstance(rid, str) or not rid:
            return None
        rank = RESPONSE if e.get("type") == "response" else REQUEST
        if time is None:
            time = norm_time(e.get("time"))
        auth = _d(e.get("auth"))
        error = _s(e.get("error"))
        if path.startswith(self.prefix):
            if self.is_service(auth):
                return self._service(e, req, path, rank, time, rid, auth, error)
            return self._touch(req, path, rank, time, rid, auth, error, admin=False)
        if path == "sys/wrapping/unwrap":
            return self._unwrap(req, rank, time, rid, auth, error)
        if path.startswith(self.ui_prefix) and "permission denied" in error:
            # `bao kv get custody-kv/...` first asks sys/internal/ui/mounts/<path>; a token without access is
            # refused there and never reaches the mount itself. A granted preflight is followed by the real access,
            # which is counted on its own.
            return self._touch(req, path, rank, time, rid, auth, error, admin=False)
        if path in self.admin_paths and req.get("operation") != "read":
            if path == "sys/remount" and self.mount not in (
                _s(_d(req.get("data")).get("from")),
                _s(_d(req.get("data")).get("to")),
            ):
                return None
            return self._touch(req, path, rank, time, rid, auth, error, admin=True)
        return None

    def _who(self, auth: dict[str, Any]) -> Who:
        return self._w(auth.get("entity_id"), auth.get("display_name"))

    def _touch(
        self,
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
        admin: bool,
    ) -> Touch:
        pol = auth.get("policies")
        policies = tuple(sorted(p for p in pol if isinstance(p, str))) if isinstance(pol, list) else ()
        return Touch(
            rank,
            time,
            rid,
            path,
            self._i(req.get("operation")),
            self._who(auth),
            policies,
            error,
            self._i(req.get("remote_address")),
            admin,
        )

    def _unwrap(
        self, req: dict[str, Any], rank: int, time: str, rid: str, auth: dict[str, Any], error: str
    ) -> UnwrapAttempt | None:
        token = _s(auth.get("client_token")) or _s(req.get("client_token"))
        wrap = self._i(_d(req.get("data")).get("token"))
        self_unwrap = not wrap
        if self_unwrap:
            wrap = token  # the wrapping token was presented as the client token
        if not wrap:
            return None
        who = self._w("", "") if self_unwrap else self._who(auth)
        return UnwrapAttempt(
            rank, time, rid, wrap, who, self_unwrap, token, not error, error, self._i(req.get("remote_address"))
        )

    def _service(
        self,
        e: dict[str, Any],
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
    ) -> Fact | None:
        op = req.get("operation")
        if op in ("create", "update") and path.startswith(self.data_prefix):
            rel = self._i(path[len(self.data_prefix) :])
            if rel.startswith("reveals/"):
                return None  # the service staging the code it is about to hand out: the wrapped read counts
            data = _d(_d(req.get("data")).get("data"))
            kind = rel.split("/", 1)[0]
            # Only the fields each kind of record carries: fewer lookups on the hottest path.
            grant = self._grant(data, rel[len("grants/") :]) if kind == "grants" else None
            acct = kind == "accounts"
            denied = kind == "denied"
            return Write(
                rank,
                time,
                rid,
                rel,
                not error,
                self._i(data.get("event")),
                self._w(data.get("actor_entity"), data.get("actor")),
                grant.account if grant is not None else self._i(data.get("account")),
                grant,
                _int(data.get("remaining")) if kind == "codes" else -1,
                self._i(data.get("owner")) if acct else "",
                self._i(data.get("tier")) if acct else "",
                _int(data.get("approvals_required"), 0) if acct else 0,
                _s(data.get("path")) if denied else "",
                self._i(data.get("capability")) if denied else "",
            )
        if op == "read" and path.startswith(self.reveals_prefix) and rank == RESPONSE and not error:
            wrap_info = _d(_d(e.get("response")).get("wrap_info"))
            wrap = self._i(wrap_info.get("token"))
            if wrap:
                return Handout(
                    rank,
                    time,
                    rid,
                    path[len(self.reveals_prefix) :],
                    wrap,
                    _int(wrap_info.get("ttl"), 0),
                    self._who(auth),
                )
        return None


@dataclass
class Partial:
    """Everything read so far, as facts keyed by request id plus line counters. Merge is commutative."""

    files: set[str] = field(default_factory=set)
    lines_total: int = 0
    lines_custody: int = 0
    lines_invalid: int = 0
    occurrences: int = 0
    first: str = ""
    last: str = ""
    facts: dict[str, Fact] = field(default_factory=dict)
    both: set[str] = field(default_factory=set)  # request ids seen both as request and as response entry

    def add_entry_time(self, t: str) -> None:
        if t:
            if not self.first or t < self.first:
                self.first = t
            if t > self.last:
                self.last = t

    def add_fact(self, f: Fact) -> None:
        self.occurrences += 1
        rid = f.request_id
        old = self.facts.get(rid)
        if old is None:
            self.facts[rid] = f
        else:
            self._combine(rid, old, f)

    def _combine(self, rid: str, old: Fact, new: Fact) -> None:
        if old.rank != new.rank:
            self.both.add(rid)
        self.facts[rid] = _winner(old, new)

    def add_line(self, line: bytes | bytearray, ex: Extractor) -> None:
        """Parse one candidate line; count it invalid if it is not an audit entry. Never raises."""
        try:
            e = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.lines_invalid += 1
            return
        if (
            not isinstance(e, dict)
            or e.get("type") not in ("request", "response")
            or not isinstance(e.get("request"), dict)
        ):
            self.lines_invalid += 1
            return
        time = norm_time(e.get("time"))
        self.add_entry_time(time)
        try:
            f = ex.fact(e, time)
        except (TypeError, ValueError, AttributeError, IndexError):  # hostile shapes: never fatal
            self.lines_invalid += 1
            return
        if f is not None:
            self.add_fact(f)

    def merge(self, other: Partial) -> Partial:
        """Fold ``other`` into self (and return self): the result does not depend on the order of merges."""
        self.files |= other.files
        self.lines_total += other.lines_total
        self.lines_custody += other.lines_custody
        self.lines_invalid += other.lines_invalid
        self.occurrences += other.occurrences
        self.add_entry_time(other.first)
        self.add_entry_time(other.last)
        self.both |= other.both
        mine = self.facts
        for rid, f in other.facts.items():
            old = mine.get(rid)
            if old is None:
                mine[rid] = f
            else:
                self._combine(rid, old, f)
        return self

    @property
    def duplicates(self) -> int:
        """Entries seen again with the same request id and type (cluster nodes, overlapping rotated files)."""
        return self.occurrences - len(self.facts) - len(self.both)


def _winner(a: Fact, b: Fact) -> Fact:
    """The response entry of a request beats its request entry; equal ranks tie-break on content."""
    if a.rank != b.rank:
        return a if a.rank > b.rank else b
    if type(a) is not type(b):
        return a if type(a).__name__ > type(b).__name__ else b
    return a if repr(a) >= repr(b) else b
