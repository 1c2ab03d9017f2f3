"""People as custody knows them: by email. Pure: no I/O.

A person's email comes from their Vault identity (the entity's ``email`` metadata, read by the service when they
act), from the key roster (a key's custodian) and from accounts (owner, human owner). Offboarding a person is a
plan computed here from those facts (``plan``) and carried out by ``custody.usecases.people``.

The plan, for one email:

- the grants they requested that are still open: revoked (reason ``requester offboarded``);
- the keys they custody: marked ``custodian-left`` (the account fails ``keys check`` until the key is removed or
  reassigned);
- the accounts whose codes they revealed in the last ``REVEALED_WITHIN``: marked due for rotation;
- the accounts they own or are human owner of: listed, for someone to take over;
- what they must still do on PyPI: the checklist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from custody.domain.grants import revocable
from custody.domain.keys import KeyStatus, Roster
from custody.domain.models import Grant, Model
from custody.errors import ValidationError
from custody.shellwords import shell_word

REVEALED_WITHIN = timedelta(days=365)
REVOKED_REASON = "requester offboarded"
MAX_RUNS = 20  # runs kept on a person's record (a record must stay small: Vault limits a JSON body's strings)

_EMAIL = re.compile(r"^[^@\s/]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")


def normalize_email(text: str | None, what: str = "email") -> str:
    """An email as custody keys people by it: trimmed, lower case; ValidationError if it is not one."""
    email = (text or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValidationError(f"not an email address: {(text or '')[:80]!r} ({what})",
                              hint="give the person's email, e.g. alice@acme.example")
    return email


@dataclass(frozen=True)
class Owned:
    """An account a person owns, or is the human owner of."""

    account: str
    role: str  # "owner" or "human_owner"


@dataclass(frozen=True)
class KeyHeld:
    account: str
    label: str
    status: str


@dataclass(frozen=True)
class Plan:
    """What offboarding ``email`` does (or, in a dry run, would do)."""

    email: str
    entities: tuple[str, ...]  # the Vault entities custody has seen with this email
    revoke: tuple[str, ...]  # open grants to revoke
    keys: tuple[KeyHeld, ...]  # keys they custody (``status``: as it is now)
    rotation_due: tuple[str, ...]  # accounts whose codes they revealed within REVEALED_WITHIN
    owned: tuple[Owned, ...]
    checklist: tuple[str, ...] = field(default=())

    @property
    def keys_to_mark(self) -> tuple[KeyHeld, ...]:
        return tuple(k for k in self.keys if k.status != KeyStatus.custodian_left.value)

    def known(self, drills: int = 0, offboarded: bool = False) -> bool:
        """Whether custody knows anything of this person (else offboarding them is a mistake)."""
        return bool(self.entities or self.keys or self.owned or drills or offboarded)


def grants_of(email: str, grants: Iterable[Grant]) -> list[Grant]:
    """The grants requested by ``email`` (as recorded on each grant when it was requested)."""
    return [g for g in grants if g.requester_email == email]


def plan(email: str, grants: Sequence[Grant], rosters: Iterable[Roster], owners: Iterable[tuple[str, str, str]],
         now: datetime) -> Plan:
    """The offboarding plan for ``email``. ``owners``: (account, owner email, human owner email or "")."""
    theirs = grants_of(email, grants)
    keys = tuple(KeyHeld(r.account, k.label, k.status.value) for r in rosters for k in r.keys
                 if k.custodian == email)
    revealed = sorted({g.account for g in theirs
                       if g.revealed_at is not None and g.code_fp and now - g.revealed_at <= REVEALED_WITHIN})
    owned = tuple(Owned(a, role) for a, owner, human in owners
                  for role, who in (("owner", owner), ("human_owner", human)) if who and who.lower() == email)
    draft = Plan(email=email, entities=tuple(sorted({g.requester_id for g in theirs})),
                 revoke=tuple(sorted(g.id for g in theirs if revocable(g, now))), keys=keys,
                 rotation_due=tuple(revealed), owned=owned)
    return replace(draft, checklist=checklist(draft))


def checklist(p: Plan) -> tuple[str, ...]:
    """What must still be done on PyPI, which custody cannot do: PyPI has no API for keys or ownership."""
    items = [f"log in to PyPI as {_user(k.account)} and remove the WebAuthn key labelled {k.label!r} "
             f"(Account settings > Two factor authentication); then `custody keys remove {k.account} "
             f"{shell_word(k.label)} --reason ...`, or reassign it if it stays with the team" for k in p.keys]
    items += [f"regenerate the recovery codes of {a} on PyPI and run `custody codes rotate {a}`"
              for a in p.rotation_due]
    items += [f"give {o.account} a new {'owner' if o.role == 'owner' else 'human owner'} "
              f"(they were its {o.role.replace('_', ' ')})" for o in p.owned]
    items.append(f"remove {p.email} from every custody identity group and disable their Vault entity")
    return tuple(items)


def _user(account_id: str) -> str:
    return account_id.split("/", 1)[1]


class Run(Model):
    """One ``people offboard --apply``: what it changed (a re-run that finds nothing left to do changes nothing)."""

    at: datetime
    by: str
    reason: str
    revoked: tuple[str, ...] = ()
    keys_marked: tuple[str, ...] = ()  # "<account> <label>"
    rotation_due: tuple[str, ...] = ()


class Person(Model):
    """Someone custody offboarded: when first, by whom, why, and every run since."""

    email: str
    offboarded_at: datetime
    offboarded_by: str
    reason: str
    runs: tuple[Run, ...] = ()


def offboarded(person: Person | None, email: str, run: Run) -> Person:
    """The person's record with ``run`` added (the first run makes the record)."""
    if person is None:
        return Person(email=email, offboarded_at=run.at, offboarded_by=run.by, reason=run.reason, runs=(run,))
    return person.model_copy(update={"runs": (*person.runs, run)[-MAX_RUNS:]})
