"""Grants in KV (``grants/<id>``), each write a check-and-set on the version the grant was read at.

Changes are pure functions (``custody.domain.grants``) handed to ``update``, which applies one to the grant as
read, writes the result, and on a lost race applies it again to a fresh read: concurrent replicas never lose an
approval, and a transition that no longer holds on the fresh grant refuses with its own error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from custody.domain.events import Event
from custody.domain.ids import GRANT_ID
from custody.domain.models import Grant, Principal
from custody.errors import CasConflict, NotFound, ValidationError
from custody.fanout import concurrently
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import GRANTS, grant_from_record, grant_path, grant_to_record, stamp


class Saved(NamedTuple):
    grant: Grant
    written: bool  # False: the change left the grant as it was, and nothing was written


def check_id(grant_id: str) -> None:
    if GRANT_ID.fullmatch(grant_id) is None:
        raise ValidationError(f"not a grant id: {grant_id[:40]!r}", hint="grant ids look like gr_xxxxxxxx")


@dataclass(frozen=True)
class GrantsRepo:
    kv: KV

    def get(self, grant_id: str) -> Grant:
        check_id(grant_id)
        entry = self.kv.read(grant_path(grant_id))
        if entry is None:
            raise NotFound(f"unknown grant {grant_id}", hint="see `custody access list`")
        return grant_from_record(entry.data, entry.version)

    def find(self, grant_id: str) -> Grant | None:
        """The grant, or None if there is none (or ``grant_id`` is not a grant id)."""
        try:
            return self.get(grant_id)
        except (NotFound, ValidationError):
            return None

    def all(self) -> list[Grant]:
        """Every grant (a listing, then up to 16 reads at a time); keys that are not grants are skipped."""
        return [g for g in concurrently(self.find, self.kv.list_keys(GRANTS)) if g is not None]

    def ids(self) -> list[str]:
        return self.kv.list_keys(GRANTS)

    def create(self, grant: Grant, event: Event, who: Principal, now: datetime) -> Grant:
        return self._write(grant, event, who, now, cas=0)

    def replace(self, before: Grant, after: Grant, event: Event, who: Principal, now: datetime) -> Grant | None:
        """Write ``after`` over ``before``, once; None if the grant changed since ``before`` was read."""
        try:
            return self._write(after, event, who, now, cas=before.version)
        except CasConflict:
            return None

    def update(self, grant: Grant | str, change: Callable[[Grant], Grant], event: Event, who: Principal,
               now: datetime) -> Saved:
        """Apply ``change`` to the grant and write the result (nothing, if it changes nothing). Given a grant, the
        first attempt applies to it as it is (it was just read or written); a lost race re-reads."""
        known = [grant] if isinstance(grant, Grant) else []
        grant_id = grant.id if isinstance(grant, Grant) else grant

        def attempt() -> Saved:
            current = known.pop() if known else self.get(grant_id)
            new = change(current)
            if new == current:
                return Saved(current, written=False)
            return Saved(self._write(new, event, who, now, cas=current.version), written=True)

        return with_cas_retry(attempt)

    def _write(self, grant: Grant, event: Event, who: Principal, now: datetime, cas: int) -> Grant:
        version = self.kv.write(grant_path(grant.id), grant_to_record(grant) | stamp(event, who, now), cas=cas)
        return grant.model_copy(update={"version": version})
