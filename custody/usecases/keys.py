"""The WebAuthn key roster: add, list, remove, reassign and verify keys, and check every account's keys.

Who may: the security team keeps the roster (``custody/accounts/<p>/<u>/keys``, ``.../keys/remove``,
``.../keys/reassign``); a key's custodian confirms they hold it (``.../keys/verify``, allowed to every custody role
whose people may hold keys), and custody checks that the caller *is* the custodian: their Vault entity's email
must be the key's custodian's. The check (``custody/keys/check``) is read by the security team, auditors and the
cron. The rules are ``custody.domain.keys``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain import keys as rules
from custody.domain.events import Event
from custody.domain.keys import Roster, Verdict
from custody.domain.people import normalize_email
from custody.domain.platforms import parse_account_id
from custody.domain.reasons import validate_reason
from custody.logging import get_logger
from custody.repo.repository import Repository
from custody.usecases.context import UseCase

log = get_logger("custody.keys")


@dataclass(frozen=True)
class Keys(UseCase):
    def add(self, token: str, account_id: str, label: str, custodian: str, serial: str, model: str | None = None,
            location: str | None = None, shared: bool = False) -> Roster:
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/keys", "create")
        self.repo.accounts.get(account_id)  # an unknown account is a 404 before anything is read or written
        now = self.ctx.clock()
        key = rules.new_key(label, normalize_email(custodian, "--custodian"), serial, model, location,
                            who.display_name, now)
        elsewhere = rules.tokens_by_account(self.repo.keys.all())
        gone = self.repo.people.offboarded()
        roster = self.repo.keys.update(account_id, lambda r: rules.add(r, key, elsewhere, shared, gone),
                                       Event.key_added, who, now).value
        log.info(Event.key_added, account=account_id, label=key.label, custodian=key.custodian,
                 actor=who.display_name)
        self.ctx.notify(Event.key_added, account=account_id, label=key.label, custodian=key.custodian,
                        actor=who.display_name)
        return roster

    def roster(self, token: str, account_id: str) -> Roster:
        parse_account_id(account_id)
        self.authz.authorize(token, f"accounts/{account_id}/keys", "read")
        self.repo.accounts.get(account_id)
        return self.repo.keys.get(account_id)

    def all(self, token: str) -> list[Roster]:
        self.authz.authorize(token, "keys", "list")
        return self.repo.keys.all()

    def remove(self, token: str, account_id: str, label: str, reason: str | None) -> Roster:
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/keys/remove", "update")
        why = validate_reason(reason, 10)
        self.repo.accounts.get(account_id)
        now = self.ctx.clock()
        roster = self.repo.keys.update(account_id, lambda r: rules.remove(r, label, why, who.display_name, now),
                                       Event.key_removed, who, now).value
        log.info(Event.key_removed, account=account_id, label=label, reason=why, actor=who.display_name)
        self.ctx.notify(Event.key_removed, account=account_id, label=label, reason=why, actor=who.display_name)
        return roster

    def reassign(self, token: str, account_id: str, label: str, custodian: str, reason: str | None) -> Roster:
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/keys/reassign", "update")
        email = normalize_email(custodian, "--custodian")
        why = validate_reason(reason, 10)
        self.repo.accounts.get(account_id)
        now = self.ctx.clock()
        gone = self.repo.people.offboarded()
        roster = self.repo.keys.update(account_id, lambda r: rules.reassign(r, label, email, now, gone),
                                       Event.key_reassigned, who, now).value
        log.info(Event.key_reassigned, account=account_id, label=label, custodian=email, reason=why,
                 actor=who.display_name)
        return roster

    def verify(self, token: str, account_id: str, label: str) -> Roster:
        """The custodian confirms they hold the key: recorded with who (their Vault identity) and when."""
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}/keys/verify", "update")
        self.repo.accounts.get(account_id)
        email = self.authz.email(who)
        now = self.ctx.clock()
        roster = self.repo.keys.update(account_id, lambda r: rules.verify(r, label, email, who.display_name, now),
                                       Event.key_verified, who, now).value
        log.info(Event.key_verified, account=account_id, label=label, actor=who.display_name)
        return roster

    def check(self, token: str) -> dict[str, Any]:
        """Every account's verdict: ok, or what is wrong (``ok`` overall: every account is)."""
        who = self.authz.authorize(token, "keys/check", "read")
        verdicts = all_verdicts(self.repo, self.ctx.clock())
        bad = [v.account for v in verdicts if not v.ok]
        log.info(Event.keys_checked, actor=who.display_name, checked=len(verdicts), not_ok=len(bad))
        return {"at": self.ctx.clock().isoformat(), "checked": len(verdicts), "ok": not bad, "not_ok": bad,
                "accounts": [v.as_dict() for v in verdicts]}



def all_verdicts(repo: Repository, now: datetime) -> list[Verdict]:
    """``keys check`` of every account custody holds (an account without a roster has no keys)."""
    rosters = {r.account: r for r in repo.keys.all()}
    elsewhere = rules.tokens_by_account(rosters.values())
    return [rules.check(rosters.get(a) or Roster(account=a), now, elsewhere) for a in repo.accounts.ids()]


def roster_json(r: Roster) -> dict[str, Any]:
    return {"account": r.account, "keys": [k.model_dump(mode="json") for k in r.keys],
            "removed": [k.model_dump(mode="json") for k in r.removed]}
