"""Accounts in KV: ``accounts/<platform>/<user>``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from custody.domain.events import Event
from custody.domain.models import Account, Principal
from custody.domain.platforms import parse_account_id
from custody.errors import CasConflict, Conflict, NotFound
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import (
    ACCOUNTS,
    account_from_record,
    account_path,
    account_to_record,
    account_update_record,
    stamp,
)


@dataclass(frozen=True)
class AccountsRepo:
    kv: KV

    def get(self, account_id: str) -> Account:
        parse_account_id(account_id)
        entry = self.kv.read(account_path(account_id))
        if entry is None:
            raise NotFound(f"unknown account {account_id}", hint="see `custody accounts list`")
        return account_from_record(entry.data)

    def ids(self) -> list[str]:
        """Every account id, sorted: one listing per platform."""
        ids = []
        for platform in self.kv.list_keys(ACCOUNTS):
            for username in self.kv.list_keys(f"{ACCOUNTS}{platform}"):
                if not username.endswith("/"):
                    ids.append(f"{platform.rstrip('/')}/{username}")
        return sorted(ids)

    def case_twin(self, account_id: str) -> str | None:
        """An account whose username differs from ``account_id``'s only in case, if there is one."""
        platform, username = account_id.split("/", 1)
        same = [k for k in self.kv.list_keys(f"{ACCOUNTS}{platform}/")
                if k.casefold() == username.casefold() and k != username]
        return f"{platform}/{same[0]}" if same else None

    def create(self, account: Account, who: Principal, now: datetime) -> None:
        """Write a new account; Conflict if it exists already."""
        record = account_to_record(account) | stamp(Event.account_created, who, now)
        try:
            self.kv.write(account_path(account.id), record, cas=0)
        except CasConflict:
            raise Conflict(f"account {account.id} already exists") from None

    def update(self, account_id: str, change: Callable[[Account], Account], who: Principal,
               now: datetime) -> tuple[Account, Account]:
        """Apply ``change`` to the account as read and write the result with check-and-set (``account.updated``,
        with what changed and the old values); on a lost race, again from a fresh read. The account before and
        after; nothing is written when ``change`` changes nothing."""
        path = account_path(account_id)

        def attempt() -> tuple[Account, Account]:
            entry = self.kv.read(path)
            if entry is None:
                raise NotFound(f"unknown account {account_id}", hint="see `custody accounts list`")
            before = account_from_record(entry.data)
            after = change(before)
            if after != before:
                self.kv.write(path, account_update_record(before, after, who, now), cas=entry.version)
            return before, after

        return with_cas_retry(attempt)
