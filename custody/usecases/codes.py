"""Code sets: deposit an account's codes (the security team), and their status (counts, age, due dates; never a
code). Rotation, which replaces a set for good, is ``custody.usecases.rotation``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain.events import Event
from custody.domain.models import Account, CodeSet, Principal, iso, next_generation
from custody.domain.platforms import parse_account_id, parse_codes
from custody.domain.rotation import REPLACED_REASON, assess, codeset_facts
from custody.errors import Conflict, PreconditionFailed
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase
from custody.usecases.revoking import Revoker

log = get_logger("custody.codes")


@dataclass(frozen=True)
class Codes(UseCase):
    def deposit(self, token: str, account_id: str, text: str, replace: bool = False) -> dict[str, Any]:
        """Store an account's codes. A second deposit needs ``replace`` (rotation is the usual way)."""
        platform, _ = parse_account_id(account_id)  # a malformed id never reaches the policy check
        who = self.authz.authorize(token, f"accounts/{account_id}/codes", "update" if replace else "create")
        account = self.repo.accounts.get(account_id)
        codes = parse_codes(platform, text)
        now = self.ctx.clock()
        current = self.repo.codes.current(account_id)
        if current.value is None and current.version:
            # Which of its codes were handed out went with it: a new set must not hand them out again.
            raise PreconditionFailed(
                f"the current code set of {account_id} (version {current.version}) was deleted outside custody",
                hint=f"if by mistake, undelete it (bao kv undelete -versions={current.version} "
                     f"{self.repo.codes.vault_path(account_id)}); if its codes may be exposed, regenerate them on the "
                     "platform and run `custody codes rotate`")
        if current.value is not None and not replace:
            raise Conflict(f"{account_id} already has codes deposited",
                           hint="use `custody codes rotate` after regenerating them, or --replace")
        # A code the current set already handed out stays handed out in the replacement.
        cs = CodeSet.new(account_id, codes, who.display_name, now, next_generation(current.value, current.version),
                         previous=current.value)
        event = Event.codes_replaced if current.value is not None else Event.codes_deposited
        self.repo.codes.write(cs, current.version, event, who, now)
        revoked = self._revoke_open_grants(cs, who, now) if current.value is not None else []
        self.repo.prints.refresh(account_id, who, now)  # the keyed fingerprints `codes identify` matches
        log.info(event, account=account_id, actor=who.display_name, count=cs.total, revoked=len(revoked))
        self.ctx.notify(event, account=account_id, actor=who.display_name, total=cs.total, revoked_grants=revoked)
        return self.row(account, cs, now) | {"revoked_grants": revoked}

    def _revoke_open_grants(self, cs: CodeSet, who: Principal, now: datetime) -> list[str]:
        """After a replacement, the account's open grants are for codes that no longer exist: revoke them as a
        rotation does, naming them in evidence (``replacements/<account>/<generation>``) before and after."""
        revoker = Revoker(self.ctx)
        found = revoker.open_grants(cs.account, who)
        to_revoke = sorted(found)
        version = self.repo.rotations.keep_replacement(cs.account, cs.generation, to_revoke, who, now,
                                                       completed=False)
        revoked = revoker.revoke(to_revoke, REPLACED_REASON, who, known=found)
        self.repo.rotations.keep_replacement(cs.account, cs.generation, revoked, who, now, completed=True,
                                             cas=version)
        return revoked

    def status(self, token: str, account_id: str | None = None) -> list[dict[str, Any]]:
        """Counts, age and depositor per account (one, or all); never a code."""
        if account_id:
            parse_account_id(account_id)
            self.authz.authorize(token, f"accounts/{account_id}/codes", "read")
            ids = [account_id]
        else:
            self.authz.authorize(token, "codes", "list")
            ids = self.repo.accounts.ids()
        now = self.ctx.clock()

        def one(account_id: str) -> dict[str, Any]:
            account = self.repo.accounts.get(account_id)
            entry = self.repo.codes.get(account_id)
            return self.row(account, entry.value if entry else None, now)

        return concurrently(one, ids)

    def row(self, account: Account, cs: CodeSet | None, now: datetime) -> dict[str, Any]:
        """``codes status`` for one account: counts, age, last rotation, next due date. Never a code."""
        pending = self.repo.rotations.open(account.id)
        facts = codeset_facts(cs) if cs is not None else None
        verdict = assess(facts, self.ctx.rotation_policy(), now, account.created_at, pending,
                         self.repo.marks.of(account.id))
        row: dict[str, Any] = {
            "account": account.id, "total": 0, "remaining": 0, "consumed": 0, "deposited_at": None,
            "deposited_by": None, "age_days": None, "generation": 0,
        }
        if cs is not None:
            row |= {"total": cs.total, "remaining": cs.remaining, "consumed": cs.consumed,
                    "deposited_at": cs.deposited_at.isoformat(), "deposited_by": cs.deposited_by,
                    "age_days": (now - cs.deposited_at).days, "generation": cs.generation}
        rotated = cs is not None and cs.generation > 1
        return row | {
            "rotation_due": verdict.due,
            "due_reasons": [r.message for r in verdict.reasons],
            "last_rotated_at": cs.deposited_at.isoformat() if rotated and cs is not None else None,
            "last_rotated_by": cs.deposited_by if rotated and cs is not None else None,
            "reveals_since_rotation": cs.consumed if cs is not None else 0,
            "next_due_at": iso(verdict.next_due_at),
            "overdue": verdict.overdue,
            # Shown as soon as it is open, although it only counts as due once it has been open a while.
            "interrupted_rotation": pending.as_dict() if pending else None,
        }
