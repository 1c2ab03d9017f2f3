"""Recovery drills: start one (the clock starts), finish it with a result (the clock stops), list, show and
report on them. The security team starts and finishes drills (``custody/drills``, ``custody/drills/<id>/finish``);
the security team and auditors read them.

A break-glass grant joins a drill when it is requested with its id (``access request --drill``): it then follows
every rule a real grant does, and each step taken on it (request, approvals, reveal) is added to the drill as it
happens, with whether the person held the security team's policy then. ``join`` and ``record_step`` are what the
access use case calls for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain import drills as rules
from custody.domain.drills import Drill, Step
from custody.domain.events import Event
from custody.domain.models import Grant, Principal
from custody.domain.people import normalize_email
from custody.domain.platforms import parse_account_id
from custody.errors import CustodyError
from custody.logging import get_logger
from custody.repo.repository import Repository
from custody.usecases.context import Context, UseCase

log = get_logger("custody.drills")


@dataclass(frozen=True)
class Drills(UseCase):
    def start(self, token: str, account_id: str, scenario: str | None, witness: str | None = None) -> Drill:
        parse_account_id(account_id)
        who = self.authz.authorize(token, "drills", "create")
        self.repo.accounts.get(account_id)
        now = self.ctx.clock()
        drill = rules.start(account_id, scenario, normalize_email(witness, "--witness") if witness else None, who,
                            now)
        self.repo.drills.create(drill, who, now)
        log.info(Event.drill_started, drill=drill.id, account=account_id, actor=who.display_name)
        self.ctx.notify(Event.drill_started, drill=drill.id, account=account_id, actor=who.display_name,
                        scenario=drill.scenario)
        return drill

    def finish(self, token: str, drill_id: str, result: str, notes: str | None = None) -> Drill:
        rules.check_drill_id(drill_id)
        who = self.authz.authorize(token, f"drills/{drill_id}/finish", "update")
        now = self.ctx.clock()
        drill = self.repo.drills.update(drill_id, lambda d: rules.finish(d, result, notes, who, now),
                                        Event.drill_finished, who, now)
        ttr = drill.time_to_recovery
        log.info(Event.drill_finished, drill=drill_id, account=drill.account, actor=who.display_name,
                 result=result, seconds=int(ttr.total_seconds()) if ttr else None)
        self.ctx.notify(Event.drill_finished, drill=drill_id, account=drill.account, actor=who.display_name,
                        result=result)
        return drill

    def all(self, token: str) -> list[Drill]:
        self.authz.authorize(token, "drills", "list")
        return self.repo.drills.all()

    def show(self, token: str, drill_id: str) -> Drill:
        rules.check_drill_id(drill_id)
        self.authz.authorize(token, f"drills/{drill_id}", "read")
        return self.repo.drills.get(drill_id)

    def report(self, token: str) -> dict[str, Any]:
        self.authz.authorize(token, "drills/report", "read")
        now = self.ctx.clock()
        return rules.report(self.repo.drills.all(), self.repo.accounts.ids(), now, self.ctx.settings.drill_target)


def join(repo: Repository, drill_id: str, account_id: str) -> str:
    """The drill a break-glass request on ``account_id`` names, checked: it exists, is open, is of that account."""
    drill = repo.drills.get(rules.check_drill_id(drill_id))
    rules.join(drill, account_id)
    return drill.id


STEPS = {"request": Step.requested, "approve": Step.approved, "deny": Step.denied, "review": Step.reviewed,
         "reveal": Step.revealed}


def record_step(ctx: Context, grant: Grant, who: Principal, action: str, now: datetime) -> None:
    """Add ``action`` (request, approve, deny, review, reveal) taken on a drill's grant to its drill. The grant's
    own record is what counts: a step that cannot be added is logged, and never undoes or refuses the step."""
    if not grant.drill:
        return
    step = STEPS[action]
    taken = rules.participant(who, step, now, grant.id)
    try:
        ctx.repo.drills.update(grant.drill, lambda d: rules.note(d, taken), Event.drill_step, who, now)
    except CustodyError as exc:
        log.error(Event.drill_step_unrecorded, drill=grant.drill, grant_id=grant.id, step=step.value,
                  error=exc.message)
