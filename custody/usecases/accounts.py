"""Accounts: register one (the security team), show one, list them, and suggest one for a name mistyped."""

from __future__ import annotations

from dataclasses import dataclass

from custody.domain.events import Event
from custody.domain.models import Account, new_account
from custody.domain.platforms import close_usernames, parse_account_id
from custody.fanout import concurrently
from custody.logging import get_logger
from custody.usecases.context import UseCase

log = get_logger("custody.accounts")


@dataclass(frozen=True)
class Accounts(UseCase):
    def add(self, token: str, account_id: str, owner: str, tier: str = "standard", approvals: int | None = None,
            notes: str = "") -> Account:
        parse_account_id(account_id)
        who = self.authz.authorize(token, f"accounts/{account_id}", "create")
        account = new_account(account_id, owner, tier, approvals, notes, self.ctx.clock(), who.display_name)
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
