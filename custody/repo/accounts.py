"""Accounts in KV: ``accounts/<platform>/<user>``, and the claim on each name, case-folded:
``account-names/<platform>/<name>``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from custody.domain.events import Event
from custody.domain.models import Account, Principal
from custody.domain.platforms import parse_account_id
from custody.errors import CasConflict, Conflict, UnknownAccount
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import (
    ACCOUNTS,
    account_from_record,
    account_name_path,
    account_name_record,
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
            raise UnknownAccount(account_id)
        return account_from_record(entry.data)

    def ids(self) -> list[str]:
        """Every account id, sorted: one listing per platform."""
        ids = []
        for platform in self.kv.list_keys(ACCOUNTS):
            for username in self.kv.list_keys(f"{ACCOUNTS}{platform}"):
                if not username.endswith("/"):
                    ids.append(f"{platform.rstrip('/')}/{username}")
        return sorted(ids)

    def usernames(self, platform: str) -> list[str]:
        """The usernames of one platform's accounts."""
        return [k for k in self.kv.list_keys(f"{ACCOUNTS}{platform}/") if not k.endswith("/")]

    def case_twin(self, account_id: str) -> str | None:
        """An account whose username differs from ``account_id``'s only in case, if there is one."""
        platform, username = account_id.split("/", 1)
        same = [k for k in self.usernames(platform) if k.casefold() == username.casefold() and k != username]
        return f"{platform}/{same[0]}" if same else None

    def create(self, account: Account, who: Principal, now: datetime) -> None:
        """Write a new account; Conflict if it exists already, in this spelling or in another case of it.

        The name is claimed first, case-folded (``account-names/<platform>/<name>``, check-and-set): of any number
        of creations of one name in any mix of cases, at once or not, exactly one gets past the claim, so two
        accounts never differ only in case (PyPI, like most platforms, compares usernames ignoring case).
        """
        self._claim(account.id, who, now)
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
                raise UnknownAccount(account_id)
            before = account_from_record(entry.data)
            after = change(before)
            if after != before:
                self.kv.write(path, account_update_record(before, after, who, now), cas=entry.version)
            return before, after

        return with_cas_retry(attempt)

    def _claim(self, account_id: str, who: Principal, now: datetime) -> None:
        """Take the case-folded name for ``account_id``, or raise Conflict naming the account that has it."""
        key = account_name_path(account_id)
        try:
            version = self.kv.write(key, account_name_record(account_id, who, now), cas=0)
        except CasConflict:
            entry = self.kv.read(key)
            holder = str(entry.data.get("account")) if entry is not None else account_id
            if holder == account_id:
                return  # this very spelling's claim: the account's own check-and-set write decides
            if self.kv.read(account_path(holder)) is None:
                raise Conflict(f"account {holder} is being created, or its creation was interrupted; usernames "
                               "differ only in case", hint=f"create it as {holder}") from None
            raise Conflict(f"account {holder} already exists; usernames differ only in case",
                           hint=f"use {holder}") from None
        twin = self.case_twin(account_id)  # an account registered before names were claimed
        if twin:
            with contextlib.suppress(CasConflict):  # the claim names the account that has the name, from now on
                self.kv.write(key, account_name_record(twin, who, now), cas=version)
            raise Conflict(f"account {twin} already exists; usernames differ only in case", hint=f"use {twin}")
