"""From audit entries to facts, and the mergeable accumulator that reduces them as they are read.
An audit entry that matters to custody becomes one small immutable *fact* for one ``request.id``. The
service's writes (most of custody traffic) are folded at once into per-grant timelines and per-account
state, keyed by a hash of their request id; the other facts (hand-outs, unwraps, touches, recorded refusals:
what the summary lists one by one) are kept keyed by the id itself. The request and the response entry of one
call, and the copies of one call in several cluster nodes' logs, all land on the same key; the response wins
over the request (it knows the outcome), the later copy over the earlier. ``Partial`` is therefore a pure
function of the *set* of lines read, so the partials of any split of the input merge to the partial of the
whole (see ``Partial.merge``), and its size follows the grants and the listed entries, not the lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from hashlib import blake2b
from typing import Any, NamedTuple

import orjson

CACHE_MAX = 20_000  # distinct strings an Extractor shares before it starts afresh
HMAC = "hmac-sha256:"  # how Vault writes a value it HMAC'd
REQUEST, RESPONSE = 1, 2  # ranks: a response entry knows more than its request entry
MAX_TTL = 100 * 365 * 86400  # a wrap TTL above this (a century) is a hostile value: clamped
# The calls that hand a wrapped response to whoever holds the wrapping token (see ``Extractor._unwrap``).
UNWRAP, REWRAP, CUBBYHOLE = "sys/wrapping/unwrap", "sys/wrapping/rewrap", "cubbyhole/response"
# What a ``Touch`` touched: the custody mount itself, the mount's configuration, or raw storage (any mount).
MOUNT, ADMIN, RAW = "mount", "admin", "raw"


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
    """A call that gets what a wrapping token holds: an unwrap, a read of ``cubbyhole/response`` with the wrapping
    token itself, or a rewrap (which hands the holder a new wrapping token for the same response)."""

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
    path: str  # UNWRAP, REWRAP or CUBBYHOLE
    new_wrap: str  # a rewrap's new wrapping token (HMAC), which now holds the same code


class Touch(NamedTuple):
    """Anything but the service on the custody mount, a change to the mount's configuration, or raw storage."""

    rank: int
    time: str
    request_id: str
    path: str
    operation: str
    who: Who
    policies: tuple[str, ...]
    error: str
    remote: str
    area: str  # MOUNT, ADMIN or RAW
    note: str  # what the entry says beyond the path (a remount's from and to, when not HMAC'd)


Fact = Write | Handout | UnwrapAttempt | Touch


# An audit entry's time is when Vault wrote it: a year outside this range is a hostile or broken value (and would
# overflow the date arithmetic of the summary and its timeline).
MIN_YEAR, MAX_YEAR = 1970, 9000
_MINUTES: dict[str, bool] = {}  # 'YYYY-MM-DDTHH:MM' -> a real minute in range (one check per minute of log)


def _real_minute(m: str) -> bool:
    ok = _MINUTES.get(m)
    if ok is None:
        ok = (
            m[4] == "-"
            and m[7] == "-"
            and m[13] == ":"
            and m[:4].isdigit()
            and m[5:7].isdigit()
            and m[8:10].isdigit()
            and m[11:13].isdigit()
            and m[14:16].isdigit()
            and m[11:13] < "24"
            and m[14:16] < "60"
        )
        if ok:
            try:
                ok = MIN_YEAR <= date(int(m[:4]), int(m[5:7]), int(m[8:10])).year <= MAX_YEAR
            except ValueError:
                ok = False
        if len(_MINUTES) > 4096:
            _MINUTES.clear()
        _MINUTES[m] = ok
    return ok


_SECONDS: dict[str, bool] = {}  # 'YYYY-MM-DDTHH:MM:SS' -> a real second in range


def _real_second(s: str) -> bool:
    ok = _SECONDS.get(s)
    if ok is None:
        ok = s[16] == ":" and s[17] in "012345" and s[18] in "0123456789" and _real_minute(s[:16])
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[s] = ok
    return ok


def norm_time(value: object) -> str:
    """RFC 3339 time as fixed-width UTC nanoseconds, so string order is time order ('' if unusable).

    Only real dates and times of day, in years ``MIN_YEAR`` to ``MAX_YEAR``, are kept (a hostile
    '2026-13-45T99:99:99Z' or year 0 after the zone shift is unusable), so every non-empty result parses as a
    datetime with room for the summary's date arithmetic.
    """
    if type(value) is not str or len(value) < 20 or not value.isascii():
        return ""
    if len(value) == 30 and value[19] == "." and value[-1] == "Z" and value[10] == "T":
        # what Vault writes (nanoseconds in UTC), unless trailing zeros were trimmed: checked once per second
        ok = _SECONDS.get(value[:19])
        if ok is None:
            ok = _real_second(value[:19])
        return value if ok and value[20:29].isdigit() else ""
    if value[10] == "T" and value[-1] == "Z" and (value[19] == "." or len(value) == 20):
        frac = value[20:-1]
        if (frac.isdigit() or not frac) and _real_second(value[:19]):
            return f"{value[:19]}.{frac[:9].ljust(9, '0')}Z"
        return ""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt = dt.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or out of datetime's range once moved to UTC
        return ""
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        return ""
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond:06d}000Z"
    )


_SLASHES = re.compile("/{2,}")


def norm_path(path: str) -> str:
    """A request path as Vault routes it: repeated slashes collapsed, no slash at either end.

    ``sys/mounts/custody-kv%2F/tune`` is logged as ``sys/mounts/custody-kv//tune``, a disable may end in ``/``:
    every comparison with the mount and the admin paths is made on this form.
    """
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if path.endswith("/") or path.startswith("/"):
        path = path.strip("/")
    return path


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
        self.mount = norm_path(mount)
        self.prefix = self.mount + "/"
        self.ui_mount = "sys/internal/ui/mounts/" + self.mount
        self.ui_prefix = self.ui_mount + "/"
        self.data_prefix = self.prefix + "data/"
        self.reveals_prefix = self.data_prefix + "reveals/"
        self.admin_paths = (f"sys/mounts/{self.mount}", f"sys/mounts/{self.mount}/tune")
        self.service_role = service_role
        # Values repeat across facts (event names, accounts, principals, a grant's reason in each of its
        # writes): keeping one copy of each keeps memory proportional to the distinct values, not the entries.
        # The caches start afresh past CACHE_MAX entries, so they stay small whatever the log.
        self._strs: dict[str, str] = {}
        self._whos: dict[tuple[str, str], Who] = {}
        self._apps: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
        self._pols: dict[tuple[str, ...], tuple[str, ...]] = {}

    def forget(self) -> None:
        """Drop the shared copies (a long log has ever more distinct grant ids, tokens and times)."""
        self._strs.clear()
        self._whos.clear()
        self._apps.clear()
        self._pols.clear()

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
        raw_path = req.get("path")
        rid = req.get("id")
        if not isinstance(raw_path, str) or not isinstance(rid, str) or not rid:
            return None
        path = norm_path(raw_path)  # for every comparison; the anomaly shows the path as logged
        rank = RESPONSE if e.get("type") == "response" else REQUEST
        if time is None:
            time = norm_time(e.get("time"))
        auth = _d(e.get("auth"))
        error = _s(e.get("error"))
        if len(self._strs) > CACHE_MAX:
            self.forget()
        if path.startswith(self.prefix) or path == self.mount:
            if self.is_service(auth):
                return self._service(e, req, path, rank, time, rid, auth, error)
            return self._touch(req, raw_path, rank, time, rid, auth, error, MOUNT)
        if path in (UNWRAP, REWRAP) or (path == CUBBYHOLE and req.get("operation") == "read"):
            return self._unwrap(e, req, path, rank, time, rid, auth, error)
        if path == "sys/raw" or path.startswith("sys/raw/"):
            # raw storage: any mount's data, decrypted, whatever the policies on the mount (root only)
            return self._touch(req, raw_path, rank, time, rid, auth, error, RAW)
        if (path.startswith(self.ui_prefix) or path == self.ui_mount) and "permission denied" in error:
            # `bao kv get custody-kv/...` first asks sys/internal/ui/mounts/<path>; a token without access is
            # refused there and never reaches the mount itself. A granted preflight is followed by the real access,
            # which is counted on its own.
            return self._touch(req, raw_path, rank, time, rid, auth, error, MOUNT)
        op = req.get("operation")
        if path in self.admin_paths and op != "read":
            return self._touch(req, raw_path, rank, time, rid, auth, error, ADMIN)
        if path == "sys/remount" or (path.startswith("sys/remount/") and op != "read"):
            # Every move of a mount: Vault HMACs request.data.from and .to, so the log cannot say which mount.
            data = _d(req.get("data"))
            src, dst = _s(data.get("from")), _s(data.get("to"))
            clear = src and dst and not src.startswith(HMAC) and not dst.startswith(HMAC)
            note = f"from {src} to {dst}" if clear else ""
            return self._touch(req, raw_path, rank, time, rid, auth, error, ADMIN, note)
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
        area: str,
        note: str = "",
    ) -> Touch:
        pol = auth.get("policies")
        policies = tuple(sorted(p for p in pol if isinstance(p, str))) if isinstance(pol, list) else ()
        return Touch(
            rank,
            time,
            rid,
            self._i(path),
            self._i(req.get("operation")),
            self._who(auth),
            self._pols.setdefault(policies, policies),
            self._i(error),
            self._i(req.get("remote_address")),
            area,
            self._i(note),
        )

    def _unwrap(
        self,
        e: dict[str, Any],
        req: dict[str, Any],
        path: str,
        rank: int,
        time: str,
        rid: str,
        auth: dict[str, Any],
        error: str,
    ) -> UnwrapAttempt | None:
        """An unwrap, a rewrap, or a read of ``cubbyhole/response``: all give the wrapped response to the caller.

        ``cubbyhole/response`` is read with the wrapping token itself as the client token (the old way to unwrap);
        its ``auth`` then describes the wrapping token (the service's display name, no identity), not a person.
        """
        token = _s(auth.get("client_token")) or _s(req.get("client_token"))
        wrap = "" if path == CUBBYHOLE else self._i(_d(req.get("data")).get("token"))
        self_unwrap = not wrap
        if self_unwrap:
            wrap = token  # the wrapping token was presented as the client token
        if not wrap:
            return None
        who = self._w("", "") if self_unwrap else self._who(auth)
        new_wrap = self._i(_d(_d(e.get("response")).get("wrap_info")).get("token")) if path == REWRAP else ""
        # the caller's token HMAC only traces a failed attempt (it names nobody): not kept for the others
        return UnwrapAttempt(
            rank,
            time,
            rid,
            wrap,
            who,
            self_unwrap,
            token if error else "",
            not error,
            self._i(error),
            self._i(req.get("remote_address")),
            UNWRAP if path == UNWRAP else REWRAP if path == REWRAP else CUBBYHOLE,
            new_wrap,
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
            rel = path[len(self.data_prefix) :]
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
                    self._i(path[len(self.reveals_prefix) :]),
                    wrap,
                    min(max(_int(wrap_info.get("ttl"), 0), 0), MAX_TTL),
                    self._who(auth),
                )
        return None


class GrantInfo(NamedTuple):
    """The fields of a grant record that rarely change between its writes (one shared tuple while they do not)."""

    account: str
    requester: Who
    reason: str
    ticket: str
    emergency: bool
    reviewed_by: str


class GrantEntry(NamedTuple):
    """One successful write of a grant record, reduced to what correlation asks of it."""

    # time_int(time) << 60 | request key (see ``request_key``): one int orders entries by time, ties by key, and
    # the key recognises the same write read twice (44 bytes instead of 110 for the time string and the key)
    stamp: int
    event: str
    actor: Who
    status: str
    approvals: tuple[tuple[str, str, str, str], ...]
    info: GrantInfo

    @property
    def t(self) -> int:
        return self.stamp >> KEY_BITS

    @property
    def key(self) -> int:
        return self.stamp & KEY_MASK

    @property
    def time(self) -> str:
        return time_str(self.stamp >> KEY_BITS)


def time_int(t: str) -> int:
    """A normalised time (``norm_time``) as an integer in the same order, YYYYMMDDhhmmssnnnnnnnnn; 0 for ''."""
    if len(t) != 30:
        return 0
    d = t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19] + t[20:29]
    return int(d) if d.isdigit() else 0


def time_str(n: int) -> str:
    """The inverse of ``time_int``."""
    if not n:
        return ""
    s = f"{n:023d}"
    return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}.{s[14:]}Z"


DEPOSIT, ROTATION, OTHER = 1, 2, 3  # kinds of code-set writes kept with their time (counted in a window)
Stamped = tuple[str, int, Any]  # (time, request key, value): the latest value wins, ties broken by key


def _later(a: Stamped | None, b: Stamped | None) -> Stamped | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a[:2] >= b[:2] else b


class AccountState:
    """What the writes of one account's records say, reduced as they stream in (merge: latest value wins)."""

    __slots__ = ("approvals_required", "events", "owner", "present", "remaining", "tier")

    def __init__(self) -> None:
        self.owner: Stamped | None = None
        self.tier: Stamped | None = None
        self.approvals_required: Stamped | None = None
        self.remaining: Stamped | None = None
        # code-set writes that count in a window (deposits, rotations) or create the account's row only in one
        self.events: dict[int, tuple[str, int]] = {}
        self.present = False  # has a row whatever the window (an account record, or a stated code count)

    def merge(self, other: AccountState) -> None:
        self.owner = _later(self.owner, other.owner)
        self.tier = _later(self.tier, other.tier)
        self.approvals_required = _later(self.approvals_required, other.approvals_required)
        self.remaining = _later(self.remaining, other.remaining)
        for key, ev in other.events.items():
            self.add_event(key, ev)
        self.present = self.present or other.present

    def add_event(self, key: int, ev: tuple[str, int]) -> None:
        old = self.events.get(key)
        if old is None or ev > old:  # copies of one call: the later one, whatever the order of reading
            self.events[key] = ev

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.owner, self.tier, self.approvals_required, self.remaining, self.events, self.present)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.owner, self.tier, self.approvals_required, self.remaining, self.events, self.present = state


KEY_BITS = 60
KEY_MASK = (1 << KEY_BITS) - 1


def request_key(request_id: str, rank: int) -> int:
    """A 60-bit key for (request id, entry type): a 59-bit BLAKE2b hash of the id, the low bit for the type.

    Kept instead of the id itself for the writes the summary reduces as it reads: 32 bytes instead of about 120
    (string and set slot). Two different ids share a hash with probability about n^2 / 2^60 (n ids in one
    summary: 10^-6 for a million custody writes); the write whose key collides would be taken for a repeat.
    """
    h = int.from_bytes(blake2b(request_id.encode(errors="surrogatepass"), digest_size=8).digest(), "big")
    return (h >> (65 - KEY_BITS)) << 1 | (rank == RESPONSE)


@dataclass
class Partial:
    """Everything read so far, reduced as it is read, plus line counters. Merge is commutative and idempotent.

    The service's writes (the bulk of custody traffic) are not kept: each is folded at once into the state of
    its grant (``grants``: one small ``GrantEntry`` per write, the timeline correlation needs) or its account
    (``accounts``: latest values, and the few code-set writes a window counts), and only its request key is
    kept (``keys``) so that a copy read again (another node's log, an overlapping rotated file, the other
    worker's range) is recognised. ``facts`` keeps, keyed by request id, the entries the summary lists one by
    one anyway: hand-outs, unwraps, other tokens' touches of the mount and the API refusals the service records.
    """

    files: set[str] = field(default_factory=set)
    lines_total: int = 0
    lines_custody: int = 0
    lines_invalid: int = 0
    occurrences: int = 0
    first: str = ""
    last: str = ""
    facts: dict[str, Fact] = field(default_factory=dict)
    both: set[str] = field(default_factory=set)  # request ids in ``facts`` seen both as request and as response
    grants: dict[str, list[GrantEntry]] = field(default_factory=dict)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    keys: set[int] = field(default_factory=set)  # successful writes folded into ``accounts`` or dropped
    other_keys: set[int] = field(default_factory=set)  # writes that failed, or seen as request entries only
    hmaced: set[int] = field(default_factory=set)  # keys of writes whose event field is HMAC'd

    def add_entry_time(self, t: str) -> None:
        if t:
            if not self.first or t < self.first:
                self.first = t
            if t > self.last:
                self.last = t

    def add_fact(self, f: Fact) -> None:
        self.occurrences += 1
        if type(f) is Write and (f.grant is not None or f.event != "access.denied" or f.path.startswith("codes/")):
            self._add_write(f)
            return
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

    def _add_write(self, w: Write) -> None:
        key = request_key(w.request_id, w.rank)
        if w.rank != RESPONSE or not w.ok:
            # A request entry is the call before it ran (parsed only when it carries an error); a failed write
            # changed nothing. Neither counts, but a repeat of either is still a repeat.
            self.other_keys.add(key)
            return
        if w.grant is not None:
            # recognised as a repeat within its grant's few entries: no key in the big set
            if self._add_grant_entry(w, w.grant, key) and w.event.startswith(HMAC):
                self.hmaced.add(key)
            return
        if key not in self.keys:
            self.keys.add(key)
            if w.event.startswith(HMAC):
                self.hmaced.add(key)
        # Folded even when it is a repeat: the latest value wins, so a copy changes nothing unless it is the
        # later copy of the same call (another node's clock), which wins as it would have in any order of reading.
        p = w.path
        if p.startswith("accounts/"):
            name = w.account or _account_of(p, "accounts/")
            a = self._account(name)
            a.present = True
            if w.owner:
                a.owner = _later(a.owner, (w.time, key, w.owner))
            if w.tier:
                a.tier = _later(a.tier, (w.time, key, w.tier))
            if w.approvals_required:
                a.approvals_required = _later(a.approvals_required, (w.time, key, w.approvals_required))
        elif p.startswith("codes/"):
            a = self._account(w.account or _account_of(p, "codes/"))
            if w.remaining >= 0:
                a.present = True
                a.remaining = _later(a.remaining, (w.time, key, w.remaining))
            kind = (
                DEPOSIT
                if w.event in ("codes.deposited", "codes.replaced")
                else ROTATION
                if w.event == "codes.rotated"
                else OTHER
            )
            if kind != OTHER or w.remaining < 0:
                a.add_event(key, (w.time, kind))

    def _account(self, name: str) -> AccountState:
        a = self.accounts.get(name)
        if a is None:
            a = self.accounts[name] = AccountState()
        return a

    def _add_grant_entry(self, w: Write, g: GrantState, key: int) -> bool:
        """Add one write to its grant's timeline; False if that write is already there."""
        stamp = time_int(w.time) << KEY_BITS | key
        info = (g.account, g.requester, g.reason, g.ticket, g.emergency, g.reviewed_by)
        entries = self.grants.get(g.grant_id)
        if entries is None:
            self.grants[g.grant_id] = [GrantEntry(stamp, w.event, w.actor, g.status, g.approvals, GrantInfo(*info))]
            return True
        prev = entries[-1]
        # Consecutive writes of a grant repeat most fields: share one tuple of them instead of a copy per write.
        e = GrantEntry(
            stamp,
            w.event,
            w.actor,
            g.status,
            prev.approvals if g.approvals == prev.approvals else g.approvals,
            prev.info if info == prev.info else GrantInfo(*info),
        )
        if _fold_repeat(entries, e):
            return False
        entries.append(e)
        return True
        if _fold_repeat(entries, e):
            return False
        prev = entries[-1]
        # Consecutive writes of a grant repeat most fields: share one tuple of them instead of a copy per write.
        if e.info == prev.info and e.info is not prev.info:
            e = e._replace(info=prev.info)
        if e.approvals == prev.approvals and e.approvals is not prev.approvals:
            e = e._replace(approvals=prev.approvals)
        entries.append(e)
        return True

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
        try:
            time = norm_time(e.get("time"))
            # Vault stamps every entry; one without a real time is not an audit entry (and would break the
            # ordering and the durations the summary computes)
            f = ex.fact(e, time) if time else None
        except (TypeError, ValueError, AttributeError, IndexError, OverflowError):  # hostile shapes: never fatal
            self.lines_invalid += 1
            return
        if not time:
            self.lines_invalid += 1
            return
        self.add_entry_time(time)
        if f is not None:
            self.add_fact(f)

    def take_state(self) -> Partial:
        """Move the reduced state and facts (not the line counters) to a new Partial, leaving self empty of them.

        A worker sends these pieces as it reads; merging them gives the same as merging the whole at the end.
        """
        out = Partial(
            facts=self.facts,
            both=self.both,
            grants=self.grants,
            accounts=self.accounts,
            keys=self.keys,
            other_keys=self.other_keys,
            hmaced=self.hmaced,
        )
        self.facts, self.both, self.grants, self.accounts = {}, set(), {}, {}
        self.keys, self.other_keys, self.hmaced = set(), set(), set()
        return out

    def has_state(self) -> bool:
        return bool(self.facts or self.grants or self.accounts or self.keys or self.other_keys)

    def merge(self, other: Partial) -> Partial:
        """Fold ``other`` into self (and return self): the result does not depend on the order of merges, and
        a write present in both is counted once."""
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
        grants = self.grants
        for gid, entries in other.grants.items():
            have = grants.get(gid)
            if have is None:
                grants[gid] = list(entries)  # a list of its own: other's stays other's
            else:
                for e in entries:
                    if not _fold_repeat(have, e):
                        have.append(e)
        keys = self.keys
        accounts = self.accounts
        for name, st in other.accounts.items():
            a = accounts.get(name)
            if a is None:
                a = accounts[name] = AccountState()
            a.merge(st)  # latest values and keyed events: folding one in twice changes nothing
        keys |= other.keys
        self.other_keys |= other.other_keys
        self.hmaced |= other.hmaced
        return self

    @property
    def duplicates(self) -> int:
        """Entries seen again with the same request id and type (cluster nodes, overlapping rotated files)."""
        keys = self.keys
        others = sum(1 for k in self.other_keys if k not in keys)
        writes = len(keys) + sum(len(h) for h in self.grants.values())
        return self.occurrences - len(self.facts) - len(self.both) - writes - others


def _fold_repeat(entries: list[GrantEntry], e: GrantEntry) -> bool:
    """If ``entries`` already hold the write ``e`` is a copy of, keep the later copy of the two and say True.

    Copies of one call from several nodes may differ in time; keeping the greater of the two (the later time)
    makes the result the same whatever the order the copies are read or merged in.
    """
    key = e.stamp & KEY_MASK
    for i, have in enumerate(entries):
        if have.stamp & KEY_MASK == key:
            if e > have:
                entries[i] = e
            return True
    return False


def _account_of(path: str, prefix: str) -> str:
    """``accounts/pypi/acme`` -> ``pypi/acme`` (the first two segments after ``prefix``)."""
    rest = path[len(prefix) :].split("/")
    return "/".join(rest[:2]) if len(rest) >= 2 else ""


def _winner(a: Fact, b: Fact) -> Fact:
    """The response entry of a request beats its request entry; equal ranks tie-break on content."""
    if a.rank != b.rank:
        return a if a.rank > b.rank else b
    if type(a) is not type(b):
        return a if type(a).__name__ > type(b).__name__ else b
    return a if repr(a) >= repr(b) else b
