"""Revoking an account's open grants when its codes change, by a rotation or a ``codes deposit --replace``: they
were approved for codes that no longer exist (a reveal of one is refused anyway, ``check_generation``), and an open
grant left behind would read as access still on offer.

Shared by ``custody.usecases.rotation`` and ``custody.usecases.codes``; the rule is ``custody.domain.grants``
``revocable``/``revoke``, each revocation a check-and-set write of its grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.models import Grant, GrantStatus, Principal
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import Context

log = get_logger("custody.revoking")


@dataclass(frozen=True)
class Revoker:
    ctx: Context

    def open_grants(self, account_id: str, who: Principal) -> dict[str, Grant]:
        """Pending or approved grants of the account, and reveals of it that stopped half-way (their codes are
        about to be gone: a resumed reveal must not take a code of the new set without a new approval), by id.
        Read from the account's index: as many reads as the account has grants."""
        now = self.ctx.clock()
        if indexed := self.ctx.repo.grants.ensure_index(who, now):
            log.warning(Event.grants_indexed, grants=indexed, actor=who.display_name)
        return {g.id: g for g in self.ctx.repo.grants.of_account(account_id) if rules.revocable(g, now)}

    def revoke(self, grant_ids: list[str], reason: str, who: Principal,
               known: Mapping[str, Grant] | None = None) -> list[str]:
        """Revoke each grant still open; the ones that end revoked for ``reason`` (by this run or an interrupted
        one), not one whose reveal finished before revocation reached it. ``known``: grants as just read (a
        write over one that changed since re-reads it). Sixteen at a time: an account may have thousands."""
        seen = known or {}
        ended = concurrently(lambda g: self._revoke(seen.get(g, g), reason, who), grant_ids, name="custody-revoke")
        self.ctx.notify_revoked([g for g, fresh in ended if fresh], who)
        return [g for g, (grant, _) in zip(grant_ids, ended, strict=True)
                if grant.status is GrantStatus.revoked and grant.revoked_reason == reason]

    def _revoke(self, grant: Grant | str, reason: str, who: Principal) -> tuple[Grant, bool]:
        """The grant as it ends, and whether this call revoked it."""
        now = self.ctx.clock()
        grant_id = grant.id if isinstance(grant, Grant) else grant

        def revoke(g: Grant) -> Grant:
            return rules.revoke(g, now, reason) if rules.revocable(g, now) else g

        grant, revoked_now = self.ctx.repo.grants.update(grant, revoke, Event.grant_revoked, who, now)
        if revoked_now:
            log.info(Event.grant_revoked, grant_id=grant_id, actor=who.display_name, reason=reason)
        return grant, revoked_now
