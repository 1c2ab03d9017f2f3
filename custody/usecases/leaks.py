"""Leaked codes: which account's current set holds a code someone found (``codes identify``), and burning it
(``codes burn ACCOUNT``): the security team only (``custody/codes/identify``, ``custody/accounts/<p>/<u>/codes/burn``).

A burned code is never handed out again (it no longer counts as available), and the account is marked due for
rotation with the reason "leaked code", overdue at once. The code given is fingerprinted with the service's key,
compared, and forgotten: it is never stored, logged or answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain import leaks as rules
from custody.domain.events import Event
from custody.domain.models import CodeSet, Principal
from custody.domain.platforms import PLATFORMS, parse_account_id
from custody.domain.rotation import DueKind, RotationMark
from custody.errors import NotFound
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.repo.kv import Versioned
from custody.usecases.context import UseCase

log = get_logger("custody.leaks")


@dataclass(frozen=True)
class Leaks(UseCase):
    def identify(self, token: str, text: str) -> dict[str, Any]:
        """Which account's current set holds the code in ``text``, and whether it is unused, consumed or burned."""
        who = self.authz.authorize(token, "codes/identify", "update")
        ids = self.repo.accounts.ids()
        raw = rules.one_code(text)
        platforms = [PLATFORMS[p] for p in sorted({a.split("/", 1)[0] for a in ids}) if p in PLATFORMS]
        now = self.ctx.clock()
        wanted = {self.repo.prints.print_of(c, who, now) for c in rules.candidates(raw, platforms)}
        key = rules.key_id(self.repo.prints.key(who, now))
        found = [hit for hit in concurrently(lambda a: self._match(a, wanted, key, who, now), ids) if hit]
        log.info(Event.code_identified, actor=who.display_name, found=len(found), checked=len(ids))
        if not found:
            return {"found": False, "checked": len(ids), "account": None, "status": None}
        cs, fp = found[0]
        return rules.identified(cs, fp) | {"checked": len(ids)}

    def _match(self, account_id: str, wanted: set[str], key: str, who: Principal,
               now: datetime) -> tuple[CodeSet, str] | None:
        """The account's set and the code's ``fp``, if its current set holds one of the ``wanted`` prints. Only
        metadata and prints are read, unless the prints are missing or behind the set (a writer that could not keep
        them, another key): then they are rebuilt from the set."""
        facts, _ = self.repo.codes.facts(account_id, now)
        if facts is None:
            return None
        prints = self.repo.prints.get(account_id)
        if prints is None or prints.generation != facts.generation or prints.key_id != key:
            prints = self.repo.prints.rebuild(account_id, who, now)
        fp = next((prints.prints[p] for p in wanted if p in prints.prints), None) if prints else None
        if fp is None or prints is None:
            return None
        current = self.repo.codes.get(account_id)
        return (current.value, fp) if current and current.value.generation == prints.generation else None

    def burn(self, token: str, account_id: str, text: str) -> dict[str, Any]:
        """Mark the code in ``text`` compromised in ``account_id``'s set; the account becomes due for rotation."""
        platform, _ = parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/codes/burn", "update")
        self.repo.accounts.get(account_id)
        code = platform.normalize_code(rules.one_code(text))
        current = self.repo.codes.get(account_id)
        fp = rules.matching(current.value, [code]) if current else None
        if current is None or fp is None:
            raise NotFound(f"that code is not in {account_id}'s current set; nothing was changed",
                           hint="check the account (`custody codes identify` finds which holds a code); a code "
                                "of a rotated set is already useless")
        now = self.ctx.clock()
        before = current.value
        if rules.code_state(next(c for c in before.codes if c.fp == fp)) != "burned":  # burned again: kept as is
            self.repo.codes.update(account_id, lambda cur: rules.burn(_set(cur, before), fp, now), Event.code_burned,
                                   who, now)
        mark = RotationMark(DueKind.leaked_code, f"{rules.LEAK_REASON} ({fp}, burned by {who.display_name})", now,
                            current.value.generation, f"leak:{fp}")
        self.repo.marks.add(account_id, mark, who, now)
        after = self.repo.codes.get(account_id)
        log.warning(Event.code_burned, account=account_id, code_fp=fp, actor=who.display_name)
        self.ctx.notify(Event.code_burned, account=account_id, code_fp=fp, actor=who.display_name)
        return rules.identified(after.value if after else before, fp) | {"rotation_due": True,
                                                                          "reason": rules.LEAK_REASON}


def _set(current: Versioned[CodeSet | None], before: CodeSet) -> CodeSet:
    """The set a burn applies to: the current one, if it is still the generation the code was found in."""
    if current.value is None or current.value.generation != before.generation:
        raise NotFound(f"{before.account}'s codes changed while burning; nothing was changed",
                       hint="run `custody codes identify` again")
    return current.value
