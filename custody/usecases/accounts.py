"""Accounts: register one or change it (the security team), show one, list them, and suggest one for a name
mistyped."""

from __future__ import annotations

from dataclasses import dataclass, field

from custody.domain import accounts as rules
from custody.domain import grants as grant_rules
from custody.domain.events import Event
from custody.domain.models import Account, Grant, Principal, new_account
from custody.domain.platforms import close_usernames, parse_account_id
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase

log = get_logger("custody.accounts")


@dataclass(frozen=True)
class Updated:
    """What an update did: the account now, each field it changed, and the open grants it revoked."""

    account: Account
    changes: list[rules.FieldChange] = field(default_factory=list)
    revoked_grants: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Accounts(UseCase):
    def add(self, token: str, account_id: str, owner: str, tier: str = "standard", approvals: int | None = None,
            notes: str = "", ownership: str | None = None, human_owner: str | None = None) -> Account:
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}", "create")
        account = new_account(account_id, owner, tier, approvals, notes, self.ctx.clock(), who.display_name,
                              ownership, human_owner)
        self.repo.accounts.create(account, who, account.created_at)  # Conflict also for another case of the name
        log.info(Event.account_created, account=account_id, actor=who.display_name, tier=account.tier.value)
        self.ctx.notify(Event.account_created, account=account_id, actor=who.display_name)
        return account

    def get(self, token: str, account_id: str) -> Account:
        parse_account_id(account_id)
        self.authz.authorize(token, f"accounts/{account_id}", "read")
        return self.repo.accounts.get(account_id)

    def suggest(self, token: str, account_id: str) -> list[str]:
        """Accounts the caller may have meant by an unknown ``account_id`` (another case of it, a typo away), only
        for a caller whose policy lists accounts: a suggestion never names an account the caller could not see."""
        if not self.authz.allowed(token, "accounts", "list"):
            return []
        platform, username = account_id.split("/", 1)
        return [f"{platform}/{u}" for u in close_usernames(username, self.repo.accounts.usernames(platform))]

    def all(self, token: str) -> list[Account]:
        self.authz.authorize(token, "accounts", "list")
        return concurrently(self.repo.accounts.get, self.repo.accounts.ids())

    def update(self, token: str, account_id: str, change: rules.AccountChange) -> Updated:
        """Change an account (the security team); every change a check-and-set write with its old values. Raising
        the approvals revokes the open grants requested with fewer (``custody.domain.accounts``)."""
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}", "update")
        self.repo.accounts.get(account_id)  # an unknown account is refused before anything is checked or written
        now = self.ctx.clock()
        before, after = self.repo.accounts.update(account_id, lambda a: rules.updated(a, change, now), who, now)
        diff = rules.changes(before, after)
        if not diff:
            return Updated(after)
        changed = [c.field for c in diff]
        log.info(Event.account_updated, account=account_id, actor=who.display_name, changed=changed)
        self.ctx.notify(Event.account_updated, account=account_id, actor=who.display_name, changed=changed)
        revoked = self._revoke_outpaced(after, who) if after.approvals_required > before.approvals_required else []
        return Updated(after, diff, revoked)

    def _revoke_outpaced(self, account: Account, who: Principal) -> list[str]:
        """Revoke the account's open grants requested with fewer approvals than it requires now."""
        now = self.ctx.clock()

        def revoke(g: Grant) -> Grant:
            if not rules.outpaced(g, account, now):  # revealed, denied or expired meanwhile: left as it is
                return g
            return grant_rules.revoke(g, now, rules.tightened_reason(g, account))

        revoked = []
        for grant in (g for g in self.repo.grants.all() if rules.outpaced(g, account, now)):
            saved = self.repo.grants.update(grant, revoke, Event.grant_revoked, who, now)
            if saved.written:
                log.info(Event.grant_revoked, grant_id=grant.id, actor=who.display_name,
                         reason=saved.grant.revoked_reason)
                revoked.append(saved.grant)
        self.ctx.notify_revoked(revoked, who)
        return sorted(g.id for g in revoked)
