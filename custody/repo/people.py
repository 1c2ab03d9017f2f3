"""People in KV: ``people/<email>``, the record of each person custody offboarded (and of every run), and the
owners of every account, as their records name them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custody.domain.events import Event
from custody.domain.models import Principal
from custody.domain.people import Person, Run, offboarded
from custody.fanout import concurrently
from custody.repo.documents import Documents
from custody.repo.kv import KV
from custody.repo.records import PEOPLE, account_path, person_path


@dataclass(frozen=True)
class PeopleRepo:
    kv: KV

    @property
    def docs(self) -> Documents[Person]:
        return Documents(self.kv, Person)

    def get(self, email: str) -> Person | None:
        found = self.docs.read(person_path(email))
        return found.value if found else None

    def record(self, email: str, run: Run, who: Principal, now: datetime) -> Person:
        """Add an offboarding run to the person's record (making it on the first)."""
        return self.docs.update(person_path(email), lambda p: offboarded(p, email, run), Event.person_offboarded,
                                who, now).value

    def offboarded(self) -> set[str]:
        """The emails of everyone offboarded."""
        return {k for k in self.kv.list_keys(PEOPLE) if not k.endswith("/")}

    def owners(self, account_ids: list[str]) -> list[tuple[str, str, str]]:
        """(account, owner, human owner or "") for each account, from its record as written: the human owner is
        read from the record itself, so accounts written by a version that has that field show it here."""
        def one(account_id: str) -> tuple[str, str, str] | None:
            entry = self.kv.read(account_path(account_id))
            if entry is None:
                return None
            data = entry.data
            return account_id, str(data.get("owner") or ""), str(data.get("human_owner") or "")

        return [o for o in concurrently(one, account_ids) if o is not None]
