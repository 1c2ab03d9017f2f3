"""The WebAuthn key roster: which hardware keys are registered on each account, who holds each, and whether that
is enough to get back in. Pure: no I/O.

PyPI keeps, per key, only a label (at most 64 characters, unique per user), a credential id and a public key; it
shows none of it to anyone else. The roster custody keeps is therefore the only record of a key's custodian, its
token's serial and where it is kept. Labels follow PyPI's rule exactly, so that the roster's label names the key
on PyPI's own settings page.

``check`` is the rule ``custody keys check`` applies to one account: ``ok`` needs at least two keys on physically
separate tokens (distinct serials), each verified by its custodian within ``VERIFY_WITHIN`` (the annual credential
audit), none held by someone who has left. Warnings (one custodian for every key, a token also registered on
another account) are listed without failing the account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, field_validator

from custody.domain.models import Model, first_error
from custody.domain.reasons import hidden_characters
from custody.errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError

MAX_LABEL = 64  # PyPI's limit (warehouse's WebAuthn form)
MAX_KEYS = 20  # per account: far more than anyone registers, and a record that stays small
MAX_REMOVED = 50  # removed keys kept on the record, newest last
VERIFY_WITHIN = timedelta(days=365)


class KeyStatus(StrEnum):
    active = "active"
    custodian_left = "custodian-left"


class Severity(StrEnum):
    error = "error"  # the account is not ok
    warning = "warning"


def _one_line(value: str, what: str, most: int, least: int = 0) -> str:
    text = value.strip()
    if len(text) < least or len(text) > most:
        raise ValueError(f"{what} must be {least}-{most} characters" if least else f"{what} is over {most} "
                         "characters")
    if hidden_characters(text):
        raise ValueError(f"{what} holds control, invisible or direction-override characters")
    return text


class SecurityKey(Model):
    label: str
    custodian: str  # an email (custody.domain.people.normalize_email)
    serial: str
    model: str = ""
    location: str = ""
    added_at: datetime
    added_by: str
    verified_at: datetime | None = None
    verified_by: str | None = None
    status: KeyStatus = KeyStatus.active
    left_at: datetime | None = None

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a key needs a label (the name it has on PyPI)")
        if len(value) > MAX_LABEL:
            raise ValueError(f"the label is {len(value)} characters; PyPI allows at most {MAX_LABEL}")
        return _one_line(value, "the label", MAX_LABEL, 1)

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str) -> str:
        return _one_line(value, "the serial", 64, 1)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _one_line(value, "the model", 100)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        return _one_line(value, "the location", 200)

    @property
    def token(self) -> str:
        """The physical token, for comparing serials (case, spaces and dashes do not count)."""
        return token_of(self.serial)


class RemovedKey(Model):
    label: str
    serial: str
    custodian: str
    reason: str
    removed_by: str
    removed_at: datetime


class Roster(Model):
    account: str
    keys: tuple[SecurityKey, ...] = ()
    removed: tuple[RemovedKey, ...] = Field(default=(), repr=False)

    def find(self, label: str) -> SecurityKey:
        for key in self.keys:
            if key.label == label.strip():
                return key
        raise NotFound(f"{self.account} has no key labelled {label[:80]!r}",
                       hint=f"see `custody keys list {self.account}`")


def token_of(serial: str) -> str:
    return "".join(ch for ch in serial.casefold() if ch.isalnum())


def new_key(label: str, custodian: str, serial: str, model: str | None, location: str | None, by: str,
            now: datetime) -> SecurityKey:
    try:
        return SecurityKey(label=label, custodian=custodian, serial=serial, model=model or "",
                           location=location or "", added_at=now, added_by=by)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ValidationError(first_error(exc), hint="labels are at most 64 characters, as on PyPI") from None


def add(roster: Roster, key: SecurityKey, elsewhere: Mapping[str, list[str]], shared: bool = False,
        offboarded: Iterable[str] = ()) -> Roster:
    """``roster`` with ``key`` added. ``elsewhere``: token -> other accounts that token is registered on."""
    if any(k.label == key.label for k in roster.keys):
        raise Conflict(f"{roster.account} already has a key labelled {key.label!r}",
                       hint="labels are unique per account, as on PyPI: choose another one")
    if len(roster.keys) >= MAX_KEYS:
        raise ValidationError(f"{roster.account} already has {MAX_KEYS} keys", hint="remove one first")
    others = [a for a in elsewhere.get(key.token, []) if a != roster.account]
    if others and not shared:
        raise Conflict(f"the token with serial {key.serial!r} is already registered on {', '.join(others)}: one "
                       "physical token on two accounts means losing it locks you out of both",
                       hint="use another token, or pass --shared-token if this is deliberate")
    if key.custodian in set(offboarded):
        raise PreconditionFailed(f"{key.custodian} has been offboarded; they cannot hold a key",
                                 hint="name a custodian who is still here")
    return roster.model_copy(update={"keys": (*roster.keys, key)})


def remove(roster: Roster, label: str, reason: str, by: str, now: datetime) -> Roster:
    key = roster.find(label)
    gone = RemovedKey(label=key.label, serial=key.serial, custodian=key.custodian, reason=reason, removed_by=by,
                      removed_at=now)
    return roster.model_copy(update={"keys": tuple(k for k in roster.keys if k is not key),
                                     "removed": (*roster.removed, gone)[-MAX_REMOVED:]})


def verify(roster: Roster, label: str, email: str | None, by: str, now: datetime) -> Roster:
    """The custodian confirms they hold the key: only the custodian (by their Vault identity's email)."""
    key = roster.find(label)
    if key.status is KeyStatus.custodian_left:
        raise PreconditionFailed(f"the custodian of {key.label!r} on {roster.account} has left",
                                 hint="reassign the key (`custody keys reassign`) or remove it")
    if email is None:
        raise PermissionDenied("custody does not know your email, so it cannot tell you are the custodian",
                               hint="ask a Vault admin to set the email metadata of your Vault entity")
    if email != key.custodian:
        raise PermissionDenied(f"only the key's custodian ({key.custodian}) can confirm they hold it",
                               hint="ask them to run `custody keys verify` with their own Vault login")
    return _replace(roster, key, key.model_copy(update={"verified_at": now, "verified_by": by}))


def reassign(roster: Roster, label: str, custodian: str, now: datetime, offboarded: Iterable[str] = ()) -> Roster:
    """A new custodian for a key: active again, and unverified until they confirm they hold it."""
    key = roster.find(label)
    if custodian in set(offboarded):
        raise PreconditionFailed(f"{custodian} has been offboarded; they cannot hold a key",
                                 hint="name a custodian who is still here")
    if custodian == key.custodian and key.status is KeyStatus.active:
        raise Conflict(f"{custodian} already holds {key.label!r} on {roster.account}")
    moved = key.model_copy(update={"custodian": custodian, "status": KeyStatus.active, "left_at": None,
                                   "verified_at": None, "verified_by": None, "added_at": now})
    return _replace(roster, key, moved)


def mark_left(roster: Roster, email: str, now: datetime) -> Roster:
    """Every active key ``email`` custodies marked ``custodian-left`` (the roster itself if there is none)."""
    keys = tuple(k.model_copy(update={"status": KeyStatus.custodian_left, "left_at": now})
                 if k.custodian == email and k.status is KeyStatus.active else k for k in roster.keys)
    return roster if keys == roster.keys else roster.model_copy(update={"keys": keys})


def _replace(roster: Roster, old: SecurityKey, new: SecurityKey) -> Roster:
    return roster.model_copy(update={"keys": tuple(new if k is old else k for k in roster.keys)})


# ---- the check -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    kind: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "severity": self.severity.value, "message": self.message}


@dataclass(frozen=True)
class Verdict:
    account: str
    keys: int
    distinct_tokens: int
    custodians: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.error for p in self.problems)

    def as_dict(self) -> dict[str, object]:
        return {"account": self.account, "keys": self.keys, "distinct_tokens": self.distinct_tokens,
                "custodians": list(self.custodians), "ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


def check(roster: Roster, now: datetime, elsewhere: Mapping[str, list[str]]) -> Verdict:
    """Whether the account's keys get someone back in when one key is lost, and what to fix if not."""
    keys = roster.keys
    tokens = {k.token for k in keys}
    custodians = tuple(sorted({k.custodian for k in keys}))
    problems: list[Problem] = []

    def error(kind: str, message: str) -> None:
        problems.append(Problem(kind, Severity.error, message))

    if not keys:
        error("no_keys", "no WebAuthn key is registered")
    elif len(keys) == 1:
        error("one_key", "only one key: losing it leaves the recovery codes as the only way in")
    elif len(tokens) == 1:
        error("one_token", f"all {len(keys)} keys are on one physical token (serial {keys[0].serial})")
    if len(keys) > 1 and len(custodians) == 1:
        problems.append(Problem("one_custodian", Severity.warning,
                                f"every key is held by {custodians[0]}: if they leave, no key is at hand"))
    for k in keys:
        if k.status is KeyStatus.custodian_left:
            error("custodian_left", f"the custodian of {k.label!r}, {k.custodian}, has been offboarded: remove "
                                    "the key (and on PyPI) or reassign it")
        elif k.verified_at is None:
            error("unverified", f"{k.label!r} has never been verified by its custodian ({k.custodian})")
        elif now - k.verified_at > VERIFY_WITHIN:
            error("unverified", f"{k.label!r} was last verified on {k.verified_at:%Y-%m-%d}, more than "
                                f"{VERIFY_WITHIN.days} days ago")
        shared = sorted(a for a in elsewhere.get(k.token, []) if a != roster.account)
        if shared:
            problems.append(Problem("shared_token", Severity.warning,
                                    f"the token of {k.label!r} (serial {k.serial}) is also registered on "
                                    f"{', '.join(shared)}"))
    return Verdict(roster.account, len(keys), len(tokens), custodians, tuple(problems))


def tokens_by_account(rosters: Iterable[Roster]) -> dict[str, list[str]]:
    """token -> the accounts whose rosters hold a key on it."""
    found: dict[str, list[str]] = {}
    for r in rosters:
        for token in sorted({k.token for k in r.keys}):
            found.setdefault(token, []).append(r.account)
    return found
