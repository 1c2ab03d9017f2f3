"""The mergeable accumulator that reduces facts as they are read.

The service's writes (most of custody traffic) are folded at once into per-grant timelines and per-account
state, keyed by a hash of their request id; the other facts (hand-outs, unwraps, touches, recorded refusals:
what the summary lists one by one) are kept keyed by the id itself, in a ``FactStore``. The request and the
response entry of one call, and the copies of one call in several cluster nodes' logs, all land on the same key;
the response wins over the request (it knows the outcome), the later copy over the earlier. ``Partial`` is
therefore a pure function of the *set* of lines read, so the partials of any split of the input merge to the
partial of the whole (see ``Partial.merge``), and its size follows the grants and the listed entries, not the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custody.auditlog.entry import Entry, decode
from custody.auditlog.extract import Extractor
from custody.auditlog.facts import (
    BLAKE8,
    DEPOSIT,
    DEPOSIT_EVENTS,
    HANDED_OUT,
    HMAC,
    KEY_BITS,
    KEY_MASK,
    OTHER,
    RESPONSE,
    REVEAL_FAILED,
    ROTATION,
    Fact,
    GrantEntry,
    GrantState,
    Who,
    Write,
)
from custody.auditlog.spill import FactStore
from custody.auditlog.timeparse import norm_time, time_int

try:  # the fold of the service's grant writes in C (setup.py builds it); without it, the same in Python
    from custody.auditlog import _fold
except ImportError:  # pragma: no cover - an install without a C compiler
    _fold = None  # type: ignore[assignment]
from custody.domain.events import Event

ACCESS_DENIED, CODES_ROTATED = str(Event.access_denied), str(Event.codes_rotated)  # plain str: compared per write
Stamped = tuple[str, int, Any]  # (time, request key, value): the latest value wins, ties broken by key
_new = tuple.__new__  # a NamedTuple without its Python-level __new__ (see ``extract``)


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


def request_key(request_id: str, rank: int) -> int:
    """A 60-bit key for (request id, entry type): a 59-bit BLAKE2b hash of the id, the low bit for the type.

    Kept instead of the id itself for the writes the summary reduces as it reads: 32 bytes instead of about 120
    (string and set slot). Two different ids share a hash with probability about n^2 / 2^60 (n ids in one
    summary: 10^-6 for a million custody writes); the write whose key collides would be taken for a repeat.
    """
    h = BLAKE8.copy()
    h.update(request_id.encode())  # a decoded JSON string: valid UTF-8
    return (int.from_bytes(h.digest()) >> (65 - KEY_BITS)) << 1 | (rank == RESPONSE)


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
    facts: FactStore = field(default_factory=FactStore)
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
        # Listed one by one: every fact but the service's writes, of which only the refusals it recorded.
        if type(f) is Write and (f.grant is not None or f.event != ACCESS_DENIED or f.path.startswith("codes/")):
            self._add_write(f)
        else:
            self.facts.add(f)

    def _add_write(self, w: Write) -> None:
        key = request_key(w.request_id, w.rank)
        if w.rank != RESPONSE or not w.ok:
            # A request entry is the call before it ran (parsed only when it carries an error); a failed write
            # changed nothing. Neither counts, but a repeat of either is still a repeat.
            self.other_keys.add(key)
            return
        if w.grant is not None:
            self._add_grant_write(w.time, w.event, w.actor, w.grant, key)
            return
        self._add_key(key, w.event)
        # Folded even when it is a repeat: the latest value wins, so a copy changes nothing unless it is the
        # later copy of the same call (another node's clock), which wins as it would have in any order of reading.
        if w.path.startswith("accounts/"):
            self._add_account_write(w, key)
        elif w.path.startswith("codes/"):
            self._add_codes_write(w.time, w.event, w.account or _account_of(w.path, "codes/"), w.remaining, key)

    def _add_key(self, key: int, event: str) -> None:
        if key not in self.keys:
            self.keys.add(key)
            if event.startswith(HMAC):
                self.hmaced.add(key)

    def _add_account_write(self, w: Write, key: int) -> None:
        a = self._account(w.account or _account_of(w.path, "accounts/"))
        a.present = True
        if w.owner:
            a.owner = _later(a.owner, (w.time, key, w.owner))
        if w.tier:
            a.tier = _later(a.tier, (w.time, key, w.tier))
        if w.approvals_required:
            a.approvals_required = _later(a.approvals_required, (w.time, key, w.approvals_required))

    def _add_codes_write(self, time: str, event: str, account: str, remaining: int, key: int) -> None:
        a = self._account(account)
        if remaining >= 0:
            a.present = True
            a.remaining = _later(a.remaining, (time, key, remaining))
        kind = DEPOSIT if event in DEPOSIT_EVENTS else ROTATION if event == CODES_ROTATED else OTHER
        if kind != OTHER or remaining < 0:
            a.add_event(key, (time, kind))

    def _account(self, name: str) -> AccountState:
        a = self.accounts.get(name)
        if a is None:
            a = self.accounts[name] = AccountState()
        return a

    def _add_grant_write(self, time: str, event: str, actor: Who, g: GrantState, key: int) -> None:
        """Add one successful write of a grant record to its grant's timeline, unless that write is already there
        (recognised within its grant's few entries: no key in the big set)."""
        stamp = time_int(time) << KEY_BITS | key
        # the accessor is kept from the one write that says this attempt handed it out, or that it revoked the token
        # it made (the others repeat it)
        handed_out = g.accessor if event in (HANDED_OUT, REVEAL_FAILED) else ""
        entries = self.grants.get(g.grant_id)
        if entries is None:
            self.grants[g.grant_id] = [
                _new(GrantEntry, (stamp, event, actor, g.status, g.approvals, g.info, g.attempt, handed_out))
            ]
        else:
            prev = entries[-1]
            # Consecutive writes of a grant repeat most fields: share one tuple of them instead of a copy per write.
            e = _new(GrantEntry, (
                stamp,
                event,
                actor,
                g.status,
                prev.approvals if g.approvals == prev.approvals else g.approvals,
                prev.info if g.info == prev.info else g.info,
                g.attempt,
                handed_out,
            ))
            if _fold_repeat(entries, e):
                return
            entries.append(e)
        if event.startswith(HMAC):
            self.hmaced.add(key)

    def add_line(self, line: bytes | bytearray | memoryview, ex: Extractor) -> None:
        """Decode one candidate line (``entry``); count it invalid if it is not an audit entry. Never raises."""
        e = decode(line, Entry)
        if e is None or e.request is None or (e.type != "response" and e.type != "request"):
            self.lines_invalid += 1
            return
        # Vault stamps every entry; one without a real time is not an audit entry (and would break the ordering
        # and the durations the summary computes)
        time = _fold.vault_time(e.time) if _fold is not None else None  # Vault's own form, judged in C
        if time is None:
            time = norm_time(e.time)
        if not time:
            self.lines_invalid += 1
            return
        req = e.request
        try:
            rel = ex.plain_write(e, req)
            if rel.startswith("grants/"):  # what add_fact does with the Write fact of the same entry, from here on
                if _fold is not None:  # the same in C
                    _fold.grant(self.grants, self.hmaced, ex.fold_state, req, rel, time)
                else:
                    event, actor, grant = ex.grant_parts(req, rel)
                    self._add_grant_write(time, event, actor, grant, request_key(req.id, RESPONSE))
                self.add_entry_time(time)
                self.occurrences += 1
                return
            if rel.startswith("codes/"):
                event, account, remaining = ex.codes_parts(req)
                self.add_entry_time(time)
                self.occurrences += 1
                key = request_key(req.id, RESPONSE)
                self._add_key(key, event)
                self._add_codes_write(time, event, account or _account_of(rel, "codes/"), remaining, key)
                return
            f = ex.fact(e, req, time, line)
        except ValueError:  # digits that int() cannot read, in a hostile count or TTL: never fatal
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
            grants=self.grants,
            accounts=self.accounts,
            keys=self.keys,
            other_keys=self.other_keys,
            hmaced=self.hmaced,
            occurrences=self.occurrences,
        )
        self.facts, self.grants, self.accounts = FactStore(may_spill=self.facts.may_spill), {}, {}
        self.keys, self.other_keys, self.hmaced = set(), set(), set()
        self.occurrences = 0
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
        self.facts.merge(other.facts)
        grants = self.grants
        for gid, entries in other.grants.items():
            have = grants.get(gid)
            if have is None:
                grants[gid] = list(entries)  # a list of its own: other's stays other's
            else:
                for e in entries:
                    if not _fold_repeat(have, e):
                        have.append(e)
        accounts = self.accounts
        for name, st in other.accounts.items():
            a = accounts.get(name)
            if a is None:
                a = accounts[name] = AccountState()
            a.merge(st)  # latest values and keyed events: folding one in twice changes nothing
        self.keys |= other.keys
        self.other_keys |= other.other_keys
        self.hmaced |= other.hmaced
        return self

    @property
    def duplicates(self) -> int:
        """Entries seen again with the same request id and type (cluster nodes, overlapping rotated files)."""
        keys = self.keys
        others = sum(1 for k in self.other_keys if k not in keys)
        writes = len(keys) + sum(len(h) for h in self.grants.values())
        return self.occurrences - len(self.facts) - self.facts.count_both() - writes - others


def compiled() -> bool:
    """Whether the fold of grant writes in C is in use (reported by the benchmark)."""
    return _fold is not None


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
