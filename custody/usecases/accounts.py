"""Accounts: register one (the security team), show one, list them."""

from __future__ import annotations

from dataclasses import dataclass

from custody.domain.events import Event
from custody.domain.models import Account, new_account
from custody.domain.platforms import parse_account_id
from custody.errors import Conflict
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
        twin = self.repo.accounts.case_twin(account_id)
        if twin:  # PyPI (like most platforms) matches usernames ignoring case: one account, one code set
            raise Conflict(f"account {twin} already exists; usernames differ only in case", hint=f"use {twin}")
        self.repo.accounts.create(account, who, account.created_at)
        log.info(Event.account_created, account=account_id, actor=who.display_name, tier=account.tier.value)
        self.ctx.notify(Event.account_created, account=account_id, actor=who.display_name)
        return account

    def get(self, token: str, account_id: str) -> Account:
        parse_account_id(account_id)
        self.authz.authorize(token, f"accounts/{account_id}", "read")
        return self.repo.accounts.get(account_id)

    def all(self, token: str) -> list[Account]:
        self.authz.authorize(token, "accounts", "list")
        return concurrently(self.repo.accounts.get, self.repo.accounts.ids())
