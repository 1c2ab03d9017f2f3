"""The records custody keeps. Validated on construction; secrets are excluded from reprs."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from custody.domain.ids import GRANT_ID_PATTERN
from custody.domain.platforms import parse_account_id
from custody.errors import AuthError, ValidationError


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A time as records and answers carry it: ISO 8601, or None."""
    return value.isoformat() if value else None


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Tier(StrEnum):
    standard = "standard"
    critical = "critical"


class Ownership(StrEnum):
    """Whom an account belongs to: one person, the company, a PyPI Organization, or a machine (CI, a bot)."""

    personal = "personal"
    corporate = "corporate"
    organization = "organization"
    service = "service"


_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")


def is_email(value: str) -> bool:
    return _EMAIL.fullmatch(value) is not None


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


class Principal(Model):
    """Who is calling, as Vault says (never as the caller says)."""

    id: str  # entity id, or a stable digest of the token accessor for tokens without an entity (root)
    display_name: str
    entity_id: str = ""
    policies: tuple[str, ...] = ()

    @classmethod
    def from_lookup(cls, data: dict[str, object]) -> Principal:
        entity = str(data.get("entity_id") or "")
        accessor = str(data.get("accessor") or "")
        if not entity and not accessor:
            # A batch token outside any identity: nothing tells its holder apart from another such caller's, so
            # "only the requester may reveal" could not hold.
            raise AuthError("this Vault token names no identity (a batch token without an entity)",
                            hint="log in through an auth method (userpass, OIDC, AppRole...) or use a service token")
        ident = entity or "token-" + hashlib.sha256(accessor.encode()).hexdigest()[:12]
        # The token's own policies and those its identity groups give: what the caller is allowed, all told.
        policies = [*(_strs(data.get("policies"))), *(_strs(data.get("identity_policies")))]
        return cls(
            id=ident,
            display_name=str(data.get("display_name") or "unknown"),
            entity_id=entity,
            policies=tuple(dict.fromkeys(policies)),
        )


class Account(Model):
    id: str
    owner: str
    tier: Tier = Tier.standard
    approvals_required: int = Field(0, ge=0, le=5)
    notes: str = Field("", max_length=2000)
    created_at: datetime
    created_by: str
    updated_at: datetime | None = None
    # None: not recorded (an account registered before custody kept it, or not decided yet); never a default class
    ownership: Ownership | None = None
    human_owner: str | None = None  # the person who answers for the account; a service account must name one

    @field_validator("id")
    @classmethod
    def _account_id(cls, value: str) -> str:
        parse_account_id(value)
        return value

    @field_validator("owner")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("owner must be an email address")
        return value.lower()

    @field_validator("human_owner")
    @classmethod
    def _human_email(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _EMAIL.fullmatch(value):
            raise ValueError("human owner must be an email address")
        return value.lower()

    @model_validator(mode="after")
    def _service_has_a_human(self) -> Account:
        if self.ownership is Ownership.service and not self.human_owner:
            raise ValueError("a service account needs a human owner")
        return self

    @property
    def platform(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def username(self) -> str:
        return self.id.split("/", 1)[1]


def default_approvals(tier: Tier, approvals: int | None) -> int:
    """Critical accounts need at least one approver (two by default); standard ones none unless asked."""
    if approvals is None:
        return 2 if tier is Tier.critical else 0
    if tier is Tier.critical and approvals < 1:
        raise ValidationError(
            "a critical account needs at least one approval", hint="use --approvals 1 or more, or --tier standard"
        )
    if not 0 <= approvals <= 5:
        raise ValidationError("approvals must be between 0 and 5")
    return approvals


def parse_tier(tier: str) -> Tier:
    try:
        return Tier(tier)
    except ValueError:
        raise ValidationError(f"unknown tier {tier!r}", hint="use standard or critical") from None


def parse_ownership(value: str | None) -> Ownership | None:
    """An ownership class as given (None: not recorded); a ValidationError naming the classes otherwise."""
    if value is None:
        return None
    try:
        return Ownership(value)
    except ValueError:
        raise ValidationError(f"unknown ownership class {value[:40]!r}",
                              hint="use personal, corporate, organization or service") from None


def check_human_owner(ownership: Ownership | None, human_owner: str | None) -> None:
    """The human owner is an email address, and a service account has one: refused with a hint otherwise."""
    if human_owner and not is_email(human_owner):
        raise ValidationError("the human owner must be an email address",
                              hint="--human-owner names the person who answers for the account, e.g. jane@acme.example")
    if ownership is Ownership.service and not human_owner:
        raise ValidationError("a service account needs a human owner",
                              hint="add --human-owner EMAIL: the person who answers for this account")


def new_account(account_id: str, owner: str, tier: str, approvals: int | None, notes: str, now: datetime,
                by: str, ownership: str | None = None, human_owner: str | None = None) -> Account:
    """An account as the security team registers it; a ValidationError naming what is wrong otherwise."""
    tier_v = parse_tier(tier)
    ownership_v = parse_ownership(ownership)
    check_human_owner(ownership_v, human_owner)
    try:
        return Account(id=account_id, owner=owner, tier=tier_v, approvals_required=default_approvals(tier_v, approvals),
                       notes=notes, created_at=now, created_by=by, ownership=ownership_v,
                       human_owner=human_owner or None)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ValidationError(first_error(exc)) from None


def first_error(exc: Exception) -> str:
    """The first problem pydantic found, as ``field: message``."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        return f"{loc}: {first.get('msg', 'invalid')}".removeprefix(": ")
    return str(exc)


def fingerprint(code: str) -> str:
    """A short, non-reversible tag for a code, so evidence can name a code without holding it."""
    return "fp-" + hashlib.sha256(code.encode()).hexdigest()[:10]


class StoredCode(Model):
    """One code in a set; ``fp`` names it in evidence without revealing it."""

    code: str = Field("", repr=False)
    fp: str
    consumed_at: datetime | None = None
    grant_id: str | None = None
    burned_at: datetime | None = None  # reported leaked (``custody codes burn``): never handed out

    @property
    def available(self) -> bool:
        return self.consumed_at is None and self.burned_at is None and bool(self.code)


class CodeSet(Model):
    account: str
    codes: tuple[StoredCode, ...] = Field(repr=False)
    deposited_by: str
    deposited_at: datetime
    generation: int = 1  # 1 for the first deposit, +1 for every rotation or replacement

    @property
    def total(self) -> int:
        return len(self.codes)

    @property
    def remaining(self) -> int:
        return sum(1 for c in self.codes if c.available)

    @property
    def consumed(self) -> int:
        return self.total - self.remaining

    @classmethod
    def new(cls, account: str, codes: list[str], by: str, at: datetime, generation: int = 1,
            previous: CodeSet | None = None) -> CodeSet:
        """A set of unused codes; a code that ``previous`` had already handed out (or burned) stays so (a code is
        never given to a second person because the same file was deposited again)."""
        spent = {c.fp: c for c in previous.codes if not c.available} if previous else {}

        def stored(code: str) -> StoredCode:
            fp = fingerprint(code)
            was = spent.get(fp)
            if was is not None:
                return StoredCode(code=code, fp=fp, consumed_at=was.consumed_at, grant_id=was.grant_id,
                                  burned_at=was.burned_at)
            return StoredCode(code=code, fp=fp)

        return cls(
            account=account,
            codes=tuple(stored(c) for c in codes),
            deposited_by=by,
            deposited_at=at,
            generation=generation,
        )


def next_generation(current: CodeSet | None, current_version: int) -> int:
    """The generation of a set written over ``current`` (at KV version ``current_version``): one more than the
    current set's; with no readable set (none yet, or one deleted outside custody) one past its version, which no
    earlier generation reached (a generation never exceeds the version that wrote it), so it is new to every grant.
    """
    return current.generation + 1 if current else current_version + 1


class GrantStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    denied = "denied"
    revealed = "revealed"
    expired = "expired"
    revoked = "revoked"


class Decision(Model):
    by: str
    by_id: str
    at: datetime
    comment: str = ""


GrantId = Annotated[str, Field(pattern=GRANT_ID_PATTERN)]


class AttemptState(StrEnum):
    running = "running"  # taking the code, wrapping it: no wrapping token has left the service yet
    handed_out = "handed_out"  # its wrapping token (``accessor``) went to the requester
    abandoned = "abandoned"  # it failed before handing anything out (its token, if any, revoked)


class Attempt(Model):
    """One try at handing out a grant's code. Only the reveal whose check-and-set write started it (its ``nonce``)
    may finish it; the wrapping token it handed out is named by ``accessor`` (never the token itself)."""

    number: int = Field(ge=1)
    nonce: str = Field(repr=False)
    started_at: datetime
    state: AttemptState = AttemptState.running
    accessor: str = Field("", repr=False)


class Grant(Model):
    id: GrantId
    account: str
    requester: str
    requester_id: str
    reason: str
    ticket: str | None = None
    status: GrantStatus
    approvals_required: int = Field(ge=0, le=5)
    approvals: tuple[Decision, ...] = ()
    denial: Decision | None = None
    emergency: bool = False
    created_at: datetime
    expires_at: datetime
    revealed_at: datetime | None = None
    code_fp: str | None = None
    review: Decision | None = None
    revoked_reason: str | None = None
    drill: str | None = None  # the recovery drill this grant is part of (``access request --drill``)
    requester_email: str | None = None  # the requester's Vault entity's email when they asked, if it has one
    # The generation of the account's code set when the grant was requested: it may only take a code of that set
    # (0: not recorded, a grant from before custody recorded it).
    codes_generation: int = 0
    attempt: Attempt | None = None  # the latest try at handing out its code (None: never tried, or before custody
    # recorded them)
    version: int = 0  # KV version the grant was read at: the check-and-set guard for the next write

    def effective_status(self, now: datetime) -> GrantStatus:
        """Pending and approved grants past their expiry are expired, whether or not anyone wrote it down."""
        if self.status in (GrantStatus.pending, GrantStatus.approved) and now >= self.expires_at:
            return GrantStatus.expired
        return self.status
