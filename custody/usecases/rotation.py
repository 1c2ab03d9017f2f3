"""Rotation: take in a regenerated code set and destroy the old one for good.

PyPI has no API to regenerate recovery codes, so a rotation is a person regenerating them in a browser and then
running ``custody codes rotate``. custody takes in the new set, destroys every earlier version of the old one in KV
v2 (so no one can read the old codes back from Vault, custody included), revokes the account's open grants, and
keeps evidence of all of it. The write order makes a crash at any point visible and resumable:

1. ``rotating/<account>``          an open-rotation marker, created with cas=0: the lock, and what the sweep sees
2. ``rotations/<account>/<n>``     evidence, ``started``: who, when, why, how many codes, versions it will replace
3. ``codes/<account>``             the new set, a new generation, check-and-set on the current version
4. destroy                         every earlier version of ``codes/<account>``
5. grants                          pending/approved grants of the account revoked ("codes rotated")
6. ``rotations/<account>/<n>``     evidence ``completed``: destroyed versions, revoked grants
7. ``rotating/<account>``          deleted

Until step 7 the account shows an interrupted rotation in ``codes status`` and in the sweep; running ``rotate``
again (with the same codes, or ``--resume`` once they are stored) finishes the same rotation. The new set is
never lost (it is written before anything is destroyed) and old versions never survive unnoticed (the marker is
removed only after their destruction was checked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from custody.domain.events import Event
from custody.domain.models import Account, CodeSet, Grant, Principal, iso, next_generation
from custody.domain.platforms import parse_account_id, parse_codes
from custody.domain.rotation import (
    INTERRUPTED_AFTER,
    REVOKED_REASON,
    Evidence,
    OpenRotation,
    digest_of,
    refuse_reused,
    rotation_reason,
)
from custody.errors import Conflict, PreconditionFailed, ValidationError
from custody.logging import get_logger
from custody.repo.kv import Versioned
from custody.usecases.context import UseCase
from custody.usecases.revoking import Revoker

log = get_logger("custody.rotation")

STEPS = ("marked", "evidence", "stored", "destroyed", "revoked", "completed")


@dataclass(frozen=True)
class Rotation(UseCase):
    after_step: Callable[[str], None] | None = None  # fault injection for tests: called after each step of STEPS

    def rotate(self, token: str, account_id: str, text: str | None, reason: str | None = None,
               resume: bool = False) -> dict[str, Any]:
        """Take in ACCOUNT's regenerated codes, destroy every earlier version, revoke open grants; or finish an
        interrupted rotation (``resume``, or the same command again)."""
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/rotate", "update")
        account = self.repo.accounts.get(account_id)
        codes = None
        if text is not None and (text.strip() or not resume):
            codes = parse_codes(parse_account_id(account.id)[0], text)
        elif not resume:
            raise ValidationError("no codes given", hint="pass the new codes one per line, on stdin or with --file")
        why = rotation_reason(reason)
        pending = self.repo.rotations.open(account_id)
        if pending is not None:
            finished = self._finish_pending(account, pending, codes, who, why, resume)
            if codes is None or digest_of(codes) == finished["new_set"]:
                return finished
            log.info(Event.rotation_again, account=account_id, previous=pending.number)
        elif resume:
            raise PreconditionFailed(f"{account_id} has no interrupted rotation to resume",
                                     hint="run `custody codes rotate` with the new codes")
        if codes is None:  # pragma: no cover - ruled out above
            raise ValidationError("no codes given")
        return self._start(account, codes, who, why)

    def open_grants(self, account_id: str, who: Principal) -> dict[str, Grant]:
        """The grants the rotation revokes, by id (``Revoker.open_grants``)."""
        return Revoker(self.ctx).open_grants(account_id, who)

    def _step(self, name: str) -> None:
        if self.after_step is not None:
            self.after_step(name)

    def _finish_pending(self, account: Account, pending: OpenRotation, codes: list[str] | None, who: Principal,
                        why: str, resume: bool) -> dict[str, Any]:
        if not resume and self.ctx.clock() - pending.started_at < INTERRUPTED_AFTER:
            raise Conflict(
                f"rotation #{pending.number} of {account.id} (started by {pending.actor} at "
                f"{pending.started_at:%Y-%m-%d %H:%M} UTC) is already in progress",
                hint="if it was interrupted, finish it with `custody codes rotate --resume` "
                     "(give the new codes again if they were never stored)")
        return self._finish(account, pending.number, codes, who, why, resumed=True)

    def _start(self, account: Account, codes: list[str], who: Principal, reason: str) -> dict[str, Any]:
        current = self.repo.codes.get(account.id)
        refuse_reused(account.id, current.value if current else None, codes)  # before anything is written
        now = self.ctx.clock()
        number = self.repo.rotations.next_number(account.id)
        if not self.repo.rotations.mark(account.id, number, reason, who, now):
            # another rotation started between our check and this write
            raise Conflict(f"a rotation of {account.id} is already in progress",
                           hint="wait for it, or finish it with `custody codes rotate --resume`")
        self._step("marked")
        self._start_evidence(account.id, number, codes, who, reason, now)
        return self._finish(account, number, codes, who, reason, resumed=False)

    def _start_evidence(self, account_id: str, number: int, codes: list[str], who: Principal, reason: str,
                        now: datetime) -> Versioned[Evidence]:
        old = self.repo.codes.readable_versions(account_id)
        current = self.repo.codes.get(account_id)
        ev = Evidence.start(account_id, number, reason, codes, previous_versions=old,
                            previous_generation=current.value.generation if current else 0, who=who, now=now)
        version = self.repo.rotations.keep(ev, cas=0)
        log.info(Event.rotation_started, account=account_id, rotation=number, actor=who.display_name,
                 count=len(codes))
        self._step("evidence")
        return Versioned(ev, version)

    def _finish(self, account: Account, number: int, codes: list[str] | None, who: Principal, reason: str,
                resumed: bool) -> dict[str, Any]:
        """Steps 3-7 of rotation ``number``, skipping what an earlier, interrupted run already did."""
        now = self.ctx.clock()
        evidence = self.repo.rotations.evidence(account.id, number)
        if evidence is None:  # interrupted between the marker and the evidence
            self._codes_needed(account.id, number, codes)
            assert codes is not None
            evidence = self._start_evidence(account.id, number, codes, who, reason, now)
        ev = evidence.value
        if not ev.completed:
            ev = self._replace_codes(evidence, codes, who, now, resumed)
        self._step("completed")
        self.repo.rotations.unmark(account.id)
        current = self.repo.codes.get(account.id)
        return _report(ev, current.value if current else None, resumed)

    def _replace_codes(self, evidence: Versioned[Evidence], codes: list[str] | None, who: Principal, now: datetime,
                       resumed: bool) -> Evidence:
        """Steps 3-6: store the new set (unless stored already), destroy the old versions, revoke open grants."""
        ev = evidence.value
        new_version = self.repo.codes.first_version_of(ev.account, ev.new_set, ev.previous_generation)
        if new_version is None:
            self._codes_needed(ev.account, ev.number, codes)
            assert codes is not None
            new_version = self._store_codes(ev.account, ev.number, codes, who, now)
            if digest_of(codes) != ev.new_set:  # a different set than the interrupted run had: say so in evidence
                ev = replace(ev, new_set=digest_of(codes), count=len(codes))
        self._step("stored")
        # Versions from this rotation's start on: earlier ones were destroyed by earlier rotations.
        since = min(ev.previous_versions or [new_version])
        destroyed = self.repo.codes.destroy_before(ev.account, new_version, since)
        self._step("destroyed")
        # Name the grants in the evidence before revoking them, so a resumed run still reports them all.
        found = self.open_grants(ev.account, who)
        to_revoke = sorted(set(ev.revoked_grants) | set(found))
        ev = replace(ev, new_version=new_version, destroyed_versions=tuple(destroyed), revoked_grants=tuple(to_revoke))
        version = self.repo.rotations.keep(ev, cas=evidence.version)
        # What was revoked, by this run or an interrupted one; not a grant revealed before it could be.
        revoked = Revoker(self.ctx).revoke(to_revoke, REVOKED_REASON, who, known=found)
        self._step("revoked")
        done = ev.complete(revoked, who, now)
        self.repo.rotations.keep(done, cas=version)
        log.info(Event.rotation_completed, account=ev.account, rotation=ev.number, actor=who.display_name,
                 destroyed_versions=destroyed, revoked=len(revoked), resumed=resumed)
        self.ctx.notify(Event.rotation_completed, account=ev.account, actor=who.display_name, rotation=ev.number,
                        destroyed_versions=destroyed, revoked_grants=revoked)
        return done

    @staticmethod
    def _codes_needed(account_id: str, number: int, codes: list[str] | None) -> None:
        if codes is None:
            raise PreconditionFailed(f"rotation #{number} of {account_id} stopped before storing the new codes",
                                     hint=f"run `custody codes rotate {account_id}` again with the new codes")

    def _store_codes(self, account_id: str, number: int, codes: list[str], who: Principal, now: datetime) -> int:
        def build(current: Versioned[CodeSet | None]) -> CodeSet:
            refuse_reused(account_id, current.value, codes)  # also when a resumed run is given the codes
            return CodeSet.new(account_id, codes, who.display_name, now,
                               next_generation(current.value, current.version), previous=current.value)

        version = self.repo.codes.update(account_id, build, Event.codes_rotated, who, now, rotation=number)
        self.repo.prints.refresh(account_id, who, now)  # the keyed fingerprints `codes identify` matches
        log.info(Event.codes_rotated, account=account_id, rotation=number, actor=who.display_name,
                 total=len(codes), version=version)
        return version


def _report(ev: Evidence, cs: CodeSet | None, resumed: bool) -> dict[str, Any]:
    """What ``codes rotate`` answers: the rotation's evidence, and the account's codes now."""
    return {
        "account": ev.account, "rotation": ev.number, "status": ev.status, "resumed": resumed,
        "reason": ev.reason, "started_at": iso(ev.started_at), "completed_at": iso(ev.completed_at),
        "rotated_by": ev.actor, "count": ev.count, "new_set": ev.new_set, "new_version": ev.new_version,
        "previous_generation": ev.previous_generation,
        "generation": cs.generation if cs else None, "remaining": cs.remaining if cs else None,
        "destroyed_versions": list(ev.destroyed_versions), "revoked_grants": list(ev.revoked_grants),
    }
