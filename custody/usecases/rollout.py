"""Enrolment waves: plan which accounts enrol together (the security team), and see how far each has come.

An account's stage is computed from what custody holds (``custody.domain.waves``): registered, its codes
deposited, its keys check passing, a passing drill in the last year. Nobody reports a stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain import drills as drill_rules
from custody.domain import waves as rules
from custody.domain.events import Event
from custody.domain.platforms import parse_account_id
from custody.domain.waves import Facts, Wave
from custody.errors import NotFound
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase
from custody.usecases.keys import all_verdicts

log = get_logger("custody.rollout")


@dataclass(frozen=True)
class Rollout(UseCase):
    def add_wave(self, token: str, name: str, accounts: Sequence[str], window: str | None = None) -> Wave:
        rules.check_name(name)
        who = self.authz.authorize(token, f"rollout/waves/{name}", "create")
        for account_id in accounts:
            parse_account_id(account_id)
        known = set(self.repo.accounts.ids())
        if unknown := [a for a in accounts if a not in known]:
            raise NotFound(f"unknown account{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}",
                           hint="register accounts first (`custody accounts add`); see `custody accounts list`")
        now = self.ctx.clock()
        wave = rules.new_wave(name, accounts, window, self.repo.waves.all(), who.display_name, now)
        self.repo.waves.create(wave, who, now)
        log.info(Event.wave_added, wave=name, accounts=len(wave.accounts), actor=who.display_name)
        self.ctx.notify(Event.wave_added, wave=name, accounts=list(wave.accounts), actor=who.display_name)
        return wave

    def status(self, token: str, wave: str | None = None) -> dict[str, Any]:
        self.authz.authorize(token, "rollout/status", "read")
        waves = [self.repo.waves.get(rules.check_name(wave))] if wave else self.repo.waves.all()
        now = self.ctx.clock()
        return rules.status(waves, self.facts([a for w in waves for a in w.accounts], now), now)

    def facts(self, account_ids: list[str], now: datetime) -> dict[str, Facts]:
        registered = set(self.repo.accounts.ids())
        ok = {v.account for v in all_verdicts(self.repo, now) if v.ok}
        drills = self.repo.drills.all()

        def one(account_id: str) -> Facts:
            if account_id not in registered:
                return rules.NOTHING
            codes, _ = self.repo.codes.facts(account_id, now)
            passed = drill_rules.last_pass(drills, account_id)
            return Facts(True, codes is not None and codes.remaining > 0, account_id in ok,
                         passed is not None and now - passed <= drill_rules.PASS_WITHIN)

        return dict(zip(account_ids, concurrently(one, account_ids), strict=True))
