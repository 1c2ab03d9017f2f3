"""Changing an account: what an update may change, what it changes, and which open grants it ends.

An update names only what changes (``AccountChange``; ``None`` leaves a field as it is). Tier and approvals go
together the way they do at registration: a critical account needs at least one approval, and moving an account to
``critical`` without naming ``approvals`` raises them to the critical default (two) if it had none. Lowering the
tier keeps the approvals as they are: fewer approvals are asked for by name (``approvals=0``), never implied.

Open grants keep the approvals they were requested with, so lowering an account's approvals never hands out a
code with fewer approvals than its requester was told. Raising them revokes every open (pending or approved, not
yet revealed) grant requested with fewer approvals than the account now requires (``outpaced``): a grant approved
under the old policy must not be revealed under the new one. Its requester asks again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from custody.domain.grants import OPEN
from custody.domain.models import (
    Account,
    Grant,
    Tier,
    check_human_owner,
    default_approvals,
    first_error,
    parse_ownership,
    parse_tier,
)
from custody.errors import ValidationError

# The fields an update may change, in the order answers list them.
FIELDS = ("owner", "tier", "approvals_required", "notes", "ownership", "human_owner")
NOTHING_HINT = "give at least one of --owner, --tier, --approvals, --notes, --ownership, --human-owner"


@dataclass(frozen=True)
class AccountChange:
    """What an update asks for; ``None`` leaves a field as it is, ``human_owner=""`` removes the human owner."""

    owner: str | None = None
    tier: str | None = None
    approvals: int | None = None
    notes: str | None = None
    ownership: str | None = None
    human_owner: str | None = None

    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "old": self.old, "new": self.new}


def _approvals(account: Account, tier: Tier, approvals: int | None) -> int:
    if approvals is not None:
        return default_approvals(tier, approvals)
    if tier is Tier.critical and account.approvals_required < 1:
        return default_approvals(tier, None)
    return account.approvals_required


def updated(account: Account, change: AccountChange, now: datetime) -> Account:
    """``account`` with ``change`` applied (and ``updated_at`` set), or ``account`` itself when nothing changes; a
    ValidationError naming what is wrong otherwise."""
    if change.empty():
        raise ValidationError("nothing to update", hint=NOTHING_HINT)
    tier = parse_tier(change.tier) if change.tier is not None else account.tier
    ownership = parse_ownership(change.ownership) if change.ownership is not None else account.ownership
    human = account.human_owner if change.human_owner is None else change.human_owner or None
    check_human_owner(ownership, human)
    values = {"owner": change.owner if change.owner is not None else account.owner, "tier": tier,
              "approvals_required": _approvals(account, tier, change.approvals),
              "notes": change.notes if change.notes is not None else account.notes,
              "ownership": ownership, "human_owner": human}
    try:
        after = Account.model_validate(account.model_dump() | values)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ValidationError(first_error(exc)) from None
    if after == account:
        return account
    return after.model_copy(update={"updated_at": now})


def changes(before: Account, after: Account) -> list[FieldChange]:
    """Each field that differs, with its old and new value as records and answers carry them."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return [FieldChange(f, old[f], new[f]) for f in FIELDS if old[f] != new[f]]


def outpaced(grant: Grant, account: Account, now: datetime) -> bool:
    """An open grant of ``account`` requested with fewer approvals than the account requires now."""
    return (grant.account == account.id and grant.effective_status(now) in OPEN
            and grant.approvals_required < account.approvals_required)


def tightened_reason(grant: Grant, account: Account) -> str:
    """What a grant revoked by a raised approval requirement says."""
    return (f"account policy tightened: {account.approvals_required} approval(s) required now, "
            f"{grant.approvals_required} when requested")
