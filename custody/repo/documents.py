"""Records that are one validated model each (a key roster, a wave, a drill, a person, rotation marks): read as the
model, written as its JSON with the write's stamp, changed with check-and-set and retried from a fresh read.

The repositories of those features (``keys``, ``waves``, ``drills``, ``people``, ``marks``) are this, given their
paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from custody.domain.events import Event
from custody.domain.models import Principal
from custody.errors import CasConflict, Conflict
from custody.fanout import concurrently
from custody.repo.kv import KV, Versioned, with_cas_retry
from custody.repo.records import stamp

M = TypeVar("M", bound=BaseModel)


class Changed(NamedTuple, Generic[M]):
    value: M
    written: bool  # False: the change left the record as it was, and nothing was written


@dataclass(frozen=True)
class Documents(Generic[M]):
    kv: KV
    model: type[M]

    def read(self, path: str) -> Versioned[M] | None:
        entry = self.kv.read(path)
        return Versioned(self.model.model_validate(entry.data), entry.version) if entry else None

    def create(self, path: str, value: M, event: Event, who: Principal, now: datetime, what: str) -> M:
        """Write a new record; Conflict naming ``what`` if there is one already."""
        try:
            self.kv.write(path, self._record(value, event, who, now), cas=0)
        except CasConflict:
            raise Conflict(f"{what} already exists") from None
        return value

    def update(self, path: str, change: Callable[[M | None], M], event: Event, who: Principal,
               now: datetime) -> Changed[M]:
        """Write ``change(current)`` (None: no record yet) over the record; nothing when it changes nothing; a lost
        race applies the change again to a fresh read."""
        def attempt() -> Changed[M]:
            current = self.read(path)
            new = change(current.value if current else None)
            if current is not None and new == current.value:
                return Changed(new, written=False)
            self.kv.write(path, self._record(new, event, who, now), cas=current.version if current else 0)
            return Changed(new, written=True)

        return with_cas_retry(attempt)

    def all(self, paths: list[str]) -> list[M]:
        """The records at ``paths`` that exist (up to 16 reads at a time)."""
        found = concurrently(self.read, paths)
        return [v.value for v in found if v is not None]

    @staticmethod
    def _record(value: BaseModel, event: Event, who: Principal, now: datetime) -> dict[str, object]:
        return value.model_dump(mode="json") | stamp(event, who, now)


def account_keys(kv: KV, folder: str) -> list[str]:
    """The ``<platform>/<user>`` keys under ``folder`` (two levels), sorted: one listing per platform."""
    ids = []
    for platform in kv.list_keys(folder):
        if platform.endswith("/"):
            ids += [f"{platform}{user}" for user in kv.list_keys(f"{folder}{platform}") if not user.endswith("/")]
    return sorted(ids)
