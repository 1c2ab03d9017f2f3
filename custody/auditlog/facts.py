"""The facts the audit reader takes from audit entries: small immutable tuples, one per ``request.id``.

``extract`` makes them from parsed entries, ``partial`` reduces them as they are read, ``correlate`` joins them.
A fact keeps only what the summary asks of its entry, and strings shared between facts are shared copies.
"""

from __future__ import annotations

from datetime import timedelta
from hashlib import blake2b
from typing import NamedTuple

from custody.auditlog.timeparse import time_str
from custody.domain.events import Event

HMAC = "hmac-sha256:"  # how Vault writes a value it HMAC'd
REQUEST, RESPONSE = 1, 2  # ranks: a response entry knows more than its request entry
MAX_TTL = 100 * 365 * 86400  # a wrap TTL above this (a century) is a hostile value: clamped
# The calls that hand a wrapped response to whoever holds the wrapping token (see ``Extractor._unwrap``).
UNWRAP, REWRAP, CUBBYHOLE = "sys/wrapping/unwrap", "sys/wrapping/rewrap", "cubbyhole/response"
# What a ``Touch`` touched: the custody mount itself, the mount's configuration, or raw storage (any mount).
MOUNT, ADMIN, RAW = "mount", "admin", "raw"
# Kinds of code-set writes kept with their time (counted in a window).
DEPOSIT, ROTATION, OTHER = 1, 2, 3
DEPOSIT_EVENTS = frozenset({Event.codes_deposited, Event.codes_replaced})
# A grant's status as its record states it (the values of ``custody.domain.models.GrantStatus``, not imported:
# that module brings pydantic, which the audit reader does without).
APPROVED, REVEALED = "approved", "revealed"
# The two grant writes that say what became of a hand-out's token: the attempt that handed it out recorded its
# accessor (grant.revealed), and a later attempt began on a delivered grant (grant.reveal_resumed): the service
# writes the latter only after it revoked the token the attempt before handed out (``access reveal --again``).
HANDED_OUT, RESUMED = str(Event.grant_revealed), str(Event.grant_reveal_resumed)
# A third, grant.reveal_failed: an attempt failed; when it had made a token (its hand-out could not be recorded) and
# the service revoked it, the failure names that token's accessor.
REVEAL_FAILED = str(Event.grant_reveal_failed)
# The entity id custody records for a token without a Vault identity: a digest of its accessor
# (``custody.domain.models.Principal.from_lookup``).
TOKEN_IDENTITY = "token-"

DEFAULT_LATE_AFTER = timedelta(minutes=2)  # an unwrap later than this after its hand-out is reported late
KEY_BITS = 60
KEY_MASK = (1 << KEY_BITS) - 1
# The request key's hash (``partial.request_key``): copies of a fresh 8-byte BLAKE2b hasher, half the cost of new ones.
BLAKE8 = blake2b(digest_size=8)


class Who(NamedTuple):
    """A principal as the audit log names it: identity entity id and token display name."""

    entity: str
    name: str


# (by, by_entity, at, comment): an approval, or a grant's denial or review, as its record states it
Decision = tuple[str, str, str, str]
NO_DECISION: Decision = ("", "", "", "")


class GrantInfo(NamedTuple):
    """The fields of a grant record that rarely change between its writes (one shared tuple while they do not)."""

    account: str
    requester: Who
    reason: str
    ticket: str
    emergency: bool
    reviewed_by: str
    denial: Decision
    review: Decision
    drill: str  # the recovery drill the grant is part of ("" when none)


class GrantState(NamedTuple):
    """A grant record as one write states it."""

    grant_id: str
    status: str
    approvals: tuple[Decision, ...]
    info: GrantInfo
    attempt: int  # the number of its latest try at handing out the code (0: none, or not recorded)
    accessor: str  # HMAC of the accessor of the wrapping token that try handed out ("" or HMAC of "" if none yet)


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
    accessor: str = ""  # HMAC of the wrapping token's accessor (in clear if the audit device has hmac_accessor off)


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
    fields: tuple[str, ...] = ()  # an admin write's request fields (names only: Vault HMACs the values)


Fact = Write | Handout | UnwrapAttempt | Touch


class GrantEntry(NamedTuple):
    """One successful write of a grant record, reduced to what correlation asks of it."""

    # time_int(time) << 60 | request key (see ``partial.request_key``): one int orders entries by time, ties by
    # key, and the key recognises the same write read twice (44 bytes instead of 110 for the time and the key)
    stamp: int
    event: str
    actor: Who
    status: str
    approvals: tuple[Decision, ...]
    info: GrantInfo
    attempt: int = 0  # the grant's latest try at handing out its code, as this write states it
    # on a grant.revealed write: HMAC of the accessor of the token that try handed out; on a grant.reveal_failed
    # write, of the token that try made and the service revoked (if it made one)
    handed_out: str = ""

    @property
    def t(self) -> int:
        return self.stamp >> KEY_BITS

    @property
    def key(self) -> int:
        return self.stamp & KEY_MASK

    @property
    def time(self) -> str:
        return time_str(self.stamp >> KEY_BITS)
