"""Key rosters in KV: ``keys/<platform>/<user>``, one record per account holding its WebAuthn keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from custody.domain.events import Event
from custody.domain.keys import Roster
from custody.domain.models import Principal
from custody.repo.documents import Changed, Documents, account_keys
from custody.repo.kv import KV
from custody.repo.records import KEYS, keys_path


@dataclass(frozen=True)
class KeysRepo:
    kv: KV

    @property
    def docs(self) -> Documents[Roster]:
        return Documents(self.kv, Roster)

    def get(self, account_id: str) -> Roster:
        """The account's roster (empty if no key was ever added)."""
        found = self.docs.read(keys_path(account_id))
        return found.value if found else Roster(account=account_id)

    def update(self, account_id: str, change: Callable[[Roster], Roster], event: Event, who: Principal,
               now: datetime) -> Changed[Roster]:
        return self.docs.update(keys_path(account_id), lambda r: change(r or Roster(account=account_id)), event,
                                who, now)

    def accounts(self) -> list[str]:
        """Accounts that have a roster (a key was added to them once)."""
        return account_keys(self.kv, KEYS)

    def all(self) -> list[Roster]:
        return self.docs.all([keys_path(a) for a in self.accounts()])
