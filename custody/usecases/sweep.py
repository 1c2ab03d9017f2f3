"""The rotation sweep: every account that is due for rotation, with reasons, and which of them are overdue. Its
write form also writes down the expiry of every open grant past its time, so the audit log shows how each ended.

The rules are ``custody.domain.rotation``; the facts come from each code set's summary in KV metadata (one read per
account, never a code), see ``custody.repo.codes``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.models import Grant, Principal, iso
from custody.domain.rotation import Assessment, RotationPolicy, assess
from custody.durations import format_duration
from custody.errors import NotFound, PreconditionFailed, ValidationError
from custody.fanout import READ_CONCURRENCY, concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase

log = get_logger("custody.sweep")


@dataclass(frozen=True)
class Sweep(UseCase):
    workers: int = READ_CONCURRENCY  # accounts read at once

    def sweep(self, token: str, max_age: str | None = None, min_remaining: int | None = None,
              grace: str | None = None) -> dict[str, Any]:
        """Every account that is due for rotation, with reasons, and which of them are overdue."""
        who = self.authz.authorize(token, "rotation/sweep", "read")
        policy = self.ctx.rotation_policy(max_age, min_remaining, grace)
        now = self.ctx.clock()
        ids = self.repo.accounts.ids()
        open_rotations = self.repo.rotations.all_open()
        marks = self.repo.marks.all()  # leaked codes, people who left

        def one(account_id: str) -> tuple[str, Assessment, str]:
            facts, source = self.repo.codes.facts(account_id, now)
            created = self.repo.accounts.get(account_id).created_at if facts is None else now
            verdict = assess(facts, policy, now, created, open_rotations.get(account_id), marks.get(account_id, ()))
            return account_id, verdict, source

        results = concurrently(one, ids, self.workers, name="custody-sweep")
        due = [due_row(a, v) for a, v, _ in results if v.due]
        overdue = [row["account"] for row in due if row["overdue"]]
        for row in due:
            event = Event.rotation_overdue if row["overdue"] else Event.rotation_due
            log.info(Event.rotation_due, account=row["account"], overdue=row["overdue"],
                     reasons=[r["kind"] for r in row["reasons"]], due_since=row["due_since"])
            self.ctx.notify(event, account=row["account"], actor=who.display_name,
                            reasons=[r["message"] for r in row["reasons"]], due_since=row["due_since"])
        log.info(Event.rotation_sweep, actor=who.display_name, checked=len(ids), due=len(due), overdue=len(overdue))
        return {
            "at": now.isoformat(),
            "policy": policy_json(policy),
            "checked": len(ids),
            "due": due,
            "overdue": overdue,
            "read_from": dict(sorted(Counter(source for _, _, source in results).items())),
        }

    def sweep_and_expire(self, token: str, max_age: str | None = None, min_remaining: int | None = None,
                         grace: str | None = None) -> dict[str, Any]:
        """The write form of the sweep (update on ``custody/rotation/sweep``): the sweep, and the expiry of open
        grants past their time written down (``expired_grants``)."""
        result = self.sweep(token, max_age, min_remaining, grace)
        who = self.authz.authorize(token, "rotation/sweep", "update")
        return result | {"expired_grants": self.expire_stale(who)}

    def expire_stale(self, who: Principal) -> list[str]:
        """Record the expiry of open grants past their time (event ``grant.expired``), so the audit log shows how
        every grant ended. Expiry is enforced without this; this is the evidence. Returns the grant ids."""
        now = self.ctx.clock()

        def expire(g: Grant) -> Grant:
            return rules.expire(g, now) if rules.expirable(g, now) else g

        def one(key: str) -> str | None:
            try:
                saved = self.repo.grants.update(key, expire, Event.grant_expired, who, now)
            except (NotFound, ValidationError, PreconditionFailed):  # gone meanwhile, or a key that is no grant
                return None
            return saved.grant.id if saved.written else None

        expired = [gid for gid in concurrently(one, self.repo.grants.ids()) if gid]
        for gid in expired:
            log.info(Event.grant_expired, grant_id=gid, actor=who.display_name)
        return expired


def policy_json(policy: RotationPolicy) -> dict[str, Any]:
    return {"max_age": format_duration(policy.max_age), "min_remaining": policy.min_remaining,
            "grace": format_duration(policy.grace)}


def due_row(account_id: str, v: Assessment) -> dict[str, Any]:
    """One due account in the sweep's answer."""
    f = v.facts
    return {
        "account": account_id,
        "reasons": [r.as_dict() for r in v.reasons],
        "due_since": iso(v.next_due_at),
        "overdue": v.overdue,
        "overdue_at": iso(v.overdue_at),
        "remaining": f.remaining if f else 0,
        "total": f.total if f else 0,
        "deposited_at": iso(f.deposited_at) if f else None,
        "generation": f.generation if f else 0,
        "interrupted_rotation": v.interrupted.as_dict() if v.interrupted else None,
    }
