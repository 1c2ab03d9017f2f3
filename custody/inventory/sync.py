"""The plan of ``custody inventory sync``: every account the inventory found (each Owner and Maintainer in the PyPI
data) that custody does not hold yet, with the owner and tier it would be registered with, and why. Pure: PyPI
ownership, custody's accounts and the caller's choices in, the plan out; ``custody.inventory.syncing`` applies it.

The rules, each stated in the plan's ``why``:

- **One account per username, whatever its case.** PyPI matches usernames ignoring case, and custody refuses a
  second account that differs from one it holds only in case: ``pypi/Foo`` and ``pypi/foo`` are one account, held
  (or created) once, spelled as the first project (by name) that lists it spells it.
- **An account custody holds is kept as it is.** Sync only ever creates; changing an account is
  ``custody accounts update``.
- **The owner** is the ``--owner`` given: PyPI does not publish its accounts' email addresses, so the inventory
  cannot know them. Name the mailbox that answers for new accounts until step two names each one's owner.
- **The tier** is ``critical`` for an account with any role on a project named with ``--critical`` (a Maintainer
  can upload releases as well as an Owner can), else ``--tier`` (``standard`` by default).
- **The ownership class** is not guessed: it stays not recorded, and the report says so until it is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from custody.domain.platforms import parse_account_id
from custody.errors import ValidationError
from custody.inventory.custody_view import Held
from custody.inventory.projects import normalize
from custody.inventory.pypi import Ownership, accounts

Action = Literal["create", "keep", "skip"]
# planned: a dry run's create; created: written by --apply; held: custody holds it (already, or by the time it was
# written, by someone else); refused: a name custody cannot hold
Status = Literal["planned", "created", "held", "refused"]
MAX_NOTES = 2000


@dataclass(frozen=True)
class Choices:
    owner: str | None  # None: not given (a dry run can do without it; --apply cannot)
    tier: str = "standard"
    critical: frozenset[str] = frozenset()  # normalized names of the projects named with --critical


@dataclass
class Entry:
    account: str  # pypi/<user>, as the PyPI data spells it
    action: Action
    roles: list[dict[str, str]]  # [{"project", "role"}]
    why: list[str]
    owner: str | None = None
    tier: str | None = None
    held_as: str | None = None  # custody's own id of the account, when it holds it
    status: Status = "planned"

    @property
    def notes(self) -> str:
        """What the account is registered with as its notes: where the inventory found it."""
        text = "found by custody inventory sync: " + "; ".join(f"{r['role']} of {r['project']}" for r in self.roles)
        return text if len(text) <= MAX_NOTES else text[: MAX_NOTES - 3] + "..."

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "action": self.action, "status": self.status, "owner": self.owner,
                "tier": self.tier, "roles": self.roles, "why": self.why, "held_as": self.held_as}


def _refusal(account: str) -> str | None:
    try:
        parse_account_id(account)
    except ValidationError as exc:
        return exc.message
    return None


def _entry(found: dict[str, Any], held: dict[str, Held], choices: Choices) -> Entry:
    account, roles = str(found["account"]), list(found["projects"])
    where = [f"{r['role']} of {r['project']}" for r in roles]
    have = held.get(account.lower())
    if have is not None:
        return Entry(account, "keep", roles, [*where, f"custody holds it as {have.account}; sync never changes an "
                     "account (use `custody accounts update`)"], held_as=have.account, status="held")
    refused = _refusal(account)
    if refused is not None:
        return Entry(account, "skip", roles, [*where, f"custody cannot hold it: {refused}"], status="refused")
    critical = sorted({r["project"] for r in roles if normalize(r["project"]) in choices.critical})
    if critical:
        tier, reason = "critical", f"tier critical: a role on {', '.join(critical)}, named with --critical"
    else:
        tier, reason = choices.tier, f"tier {choices.tier} (--tier): no role on a project named with --critical"
    owner = choices.owner
    owner_why = f"owner {owner} (--owner)" if owner else "no owner yet: --apply needs --owner EMAIL"
    return Entry(account, "create", roles, [*where, reason, owner_why], owner=owner, tier=tier)


def plan(projects: list[Ownership], held: dict[str, Held], choices: Choices) -> list[Entry]:
    """One entry per account the PyPI data names (case-insensitively), sorted by account."""
    return [_entry(found, held, choices) for found in accounts(projects)]


def summary(entries: list[Entry]) -> dict[str, int]:
    count = {a: sum(1 for e in entries if e.action == a) for a in ("create", "keep", "skip")}
    return {"found": len(entries), "to_create": count["create"], "held": count["keep"], "refused": count["skip"],
            "created": sum(1 for e in entries if e.status == "created")}
