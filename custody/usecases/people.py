"""People: what custody knows of one person (``people show``), and offboarding a leaver (``people offboard``):
the security team only (``custody/people/<email>`` read, ``custody/people/<email>/offboard`` update).

custody knows a person by email: their Vault entity's ``email`` metadata, recorded on every grant they request,
the custodian of a key, the owner (or human owner) of an account. Offboarding computes a plan from those facts
(``custody.domain.people.plan``); without ``apply`` it changes nothing, with it it revokes their open grants,
marks the keys they custody ``custodian-left``, marks rotation due on the accounts whose codes they revealed in
the last year, and records the run. Running it again changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain import grants as grant_rules
from custody.domain import keys as key_rules
from custody.domain import people as rules
from custody.domain.events import Event
from custody.domain.grants import revocable
from custody.domain.models import Grant, Principal, iso
from custody.domain.people import Plan, Run, normalize_email
from custody.domain.reasons import validate_reason
from custody.domain.rotation import DueKind, RotationMark
from custody.errors import NotFound
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase

log = get_logger("custody.people")


@dataclass(frozen=True)
class People(UseCase):
    def show(self, token: str, email: str) -> dict[str, Any]:
        address = normalize_email(email)
        self.authz.authorize(token, f"people/{address}", "read")
        now = self.ctx.clock()
        grants = self.repo.grants.all()
        p = self._plan(address, grants, now)
        person = self.repo.people.get(address)
        drills = self._witnessed(address)
        if not p.known(len(drills), person is not None):
            raise self._unknown(address)
        theirs = rules.grants_of(address, grants)
        return _plan_json(p) | {
            "offboarded": person.model_dump(mode="json") if person else None,
            "grants": [{"id": g.id, "account": g.account, "status": g.effective_status(now).value,
                        "created_at": iso(g.created_at), "revealed_at": iso(g.revealed_at), "drill": g.drill}
                       for g in sorted(theirs, key=lambda g: g.created_at)],
            "drills_witnessed": drills,
        }

    def offboard(self, token: str, email: str, reason: str | None, apply: bool = False) -> dict[str, Any]:
        address = normalize_email(email)
        who = self.authz.authorize(token, f"people/{address}/offboard", "update")
        why = validate_reason(reason, 10)
        now = self.ctx.clock()
        p = self._plan(address, self.repo.grants.all(), now)
        person = self.repo.people.get(address)
        if not p.known(len(self._witnessed(address)), person is not None):
            raise self._unknown(address)
        answer = _plan_json(p) | {"applied": apply, "reason": why}
        if not apply:
            return answer | {"changed": False}
        run = self._apply(p, why, who, now)
        self.repo.people.record(address, run, who, now)
        answer = _plan_json(self._plan(address, self.repo.grants.all(), now)) | {"applied": True, "reason": why}
        changed = bool(run.revoked or run.keys_marked or run.rotation_due)
        log.info(Event.person_offboarded, email=address, actor=who.display_name, revoked=len(run.revoked),
                 keys=len(run.keys_marked), rotation_due=len(run.rotation_due))
        self.ctx.notify(Event.person_offboarded, email=address, actor=who.display_name, reason=why,
                        revoked=list(run.revoked), rotation_due=list(run.rotation_due))
        return answer | {"changed": changed, "run": run.model_dump(mode="json")}

    def _plan(self, email: str, grants: list[Grant], now: datetime) -> Plan:
        rosters = self.repo.keys.all()
        owners = self.repo.people.owners(self.repo.accounts.ids())
        return rules.plan(email, grants, rosters, owners, now)

    def _witnessed(self, email: str) -> list[str]:
        return [d.id for d in self.repo.drills.all() if d.witness == email]

    @staticmethod
    def _unknown(email: str) -> NotFound:
        return NotFound(f"custody knows nobody with the email {email}",
                        hint="check the spelling; custody knows people from their Vault entity's email metadata "
                             "(on the grants they requested), key custodians and account owners")

    def _apply(self, p: Plan, why: str, who: Principal, now: datetime) -> Run:
        """Carry out the plan, each change idempotent: what this run changed."""
        def revoke(grant_id: str) -> Grant | None:
            saved = self.repo.grants.update(
                grant_id, lambda g: grant_rules.revoke(g, now, rules.REVOKED_REASON) if revocable(g, now) else g,
                Event.grant_revoked, who, now)
            return saved.grant if saved.written else None

        ended = [g for g in concurrently(revoke, p.revoke) if g is not None]
        self.ctx.notify_revoked(ended, who)
        revoked = [g.id for g in ended]
        marked = []
        for account in sorted({k.account for k in p.keys_to_mark}):
            if self.repo.keys.update(account, lambda r: key_rules.mark_left(r, p.email, now),
                                     Event.key_custodian_left, who, now).written:
                marked += [f"{k.account} {k.label}" for k in p.keys_to_mark if k.account == account]
        due = [a for a in p.rotation_due if self._mark_due(a, p.email, who, now)]
        return Run(at=now, by=who.display_name, reason=why, revoked=tuple(revoked), keys_marked=tuple(marked),
                   rotation_due=tuple(due))

    def _mark_due(self, account: str, email: str, who: Principal, now: datetime) -> bool:
        codes, _ = self.repo.codes.facts(account, now)
        mark = RotationMark(DueKind.person_left, f"codes revealed by {email}, who was offboarded", now,
                            codes.generation if codes else 0, f"person:{email}")
        return self.repo.marks.add(account, mark, who, now)


def _plan_json(p: Plan) -> dict[str, Any]:
    return {"email": p.email, "entities": list(p.entities), "revoke_grants": list(p.revoke),
            "keys": [{"account": k.account, "label": k.label, "status": k.status} for k in p.keys],
            "rotation_due": list(p.rotation_due),
            "owned": [{"account": o.account, "role": o.role} for o in p.owned],
            "checklist": list(p.checklist)}
