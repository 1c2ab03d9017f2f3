"""Grants in KV (``grants/<id>``), each write a check-and-set on the version the grant was read at; their index
(``index/requester/<entity>/<id>``, ``index/account/<p>/<u>/<id>``); and what each requester holds
(``holdings/<entity>``).

Changes are pure functions (``custody.domain.grants``) handed to ``update``, which applies one to the grant as
read, writes the result, and on a lost race applies it again to a fresh read: concurrent replicas never lose an
approval, and a transition that no longer holds on the fresh grant refuses with its own error.

A new grant is admitted among what its requester holds (``holdings``, the limits of ``custody.domain.grants``),
then indexed, then written: a grant is never in KV without its index entries, so a requester's or an account's
listing reads their grants only (a listing of the index, then one read per grant), whatever the number of others.
Grants written before the index existed are indexed once, by ``ensure_index``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from custody.domain import grants as rules
from custody.domain.events import Event
from custody.domain.ids import GRANT_ID
from custody.domain.models import Grant, Principal
from custody.errors import CasConflict, NotFound, ValidationError
from custody.fanout import concurrently
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import (
    GRANTS,
    INDEX_BUILT,
    account_index,
    grant_from_record,
    grant_path,
    grant_to_record,
    holdings_from_record,
    holdings_path,
    holdings_to_record,
    index_record,
    requester_index,
    stamp,
)

ADMISSION_ATTEMPTS = 60


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
        return self._read_all(self.kv.list_keys(GRANTS))

    def ids(self) -> list[str]:
        return self.kv.list_keys(GRANTS)

    def of_requester(self, requester_id: str) -> list[Grant]:
        """The requester's grants, from the index (see ``ensure_index`` for grants older than it)."""
        return self._read_all(self.kv.list_keys(requester_index(requester_id)))

    def of_account(self, account_id: str) -> list[Grant]:
        """The account's grants, from the index."""
        return self._read_all(self.kv.list_keys(account_index(account_id)))

    def _read_all(self, keys: list[str]) -> list[Grant]:
        return [g for g in concurrently(self.find, [k for k in keys if not k.endswith("/")]) if g is not None]

    # ---- a new grant ----------------------------------------------------------------------------------------
    def create(self, grant: Grant, event: Event, who: Principal, now: datetime,
               limits: rules.Limits | None = None) -> Grant:
        """Write a new grant: admitted among what its requester holds (unless ``limits`` is None), indexed, then
        written. ``TooMany`` (nothing written but the requester's holdings, pruned) when a limit says no."""
        if limits is not None:
            self._admit(grant, limits, who, now)
        self._index(grant, who, now)
        return self._write(grant, event, who, now, cas=0)

    def _admit(self, grant: Grant, limits: rules.Limits, who: Principal, now: datetime) -> None:
        path = holdings_path(grant.requester_id)

        def attempt() -> None:
            entry = self.kv.read(path)
            cas = entry.version if entry else 0
            held = holdings_from_record(entry.data) if entry else rules.Holdings()
            if grant.id in held.grant_ids():
                return  # admitted already: this write's first try landed and only its answer was lost
            if rules.over_limit(held, grant, limits) is not None:
                # Only now read what they hold: some of it may have been revealed, denied or reviewed since.
                ids = held.grant_ids()
                pruned = rules.still_held(held, dict(zip(ids, concurrently(self.find, ids), strict=True)), now)
                refusal = rules.over_limit(pruned, grant, limits)
                if refusal is not None:
                    if pruned != held:  # so that the next request need not read them again
                        self.kv.write(path, holdings_to_record(pruned) | stamp(Event.grant_admitted, who, now), cas)
                    raise refusal
                held = pruned
            self.kv.write(path, holdings_to_record(rules.admit(held, grant, limits)) |
                          stamp(Event.grant_admitted, who, now), cas=cas)

        # One record per person: only their own concurrent requests contend for it, and a burst of them (a script
        # requesting many grants at once) waits its turn rather than failing.
        with_cas_retry(attempt, attempts=ADMISSION_ATTEMPTS)

    def _index(self, grant: Grant, who: Principal, now: datetime) -> None:
        record = index_record(grant) | stamp(Event.grant_indexed, who, now)
        for folder in (requester_index(grant.requester_id), account_index(grant.account)):
            with contextlib.suppress(CasConflict):  # indexed already: a retried request, or the backfill
                self.kv.write(folder + grant.id, record, cas=0)

    # ---- the index of grants written before it --------------------------------------------------------------
    def index_complete(self) -> bool:
        return self.kv.read(INDEX_BUILT) is not None

    def ensure_index(self, who: Principal, now: datetime) -> int:
        """Index every grant that is not yet (grants written before the index existed), once; how many were read.
        An operator repairs the index by deleting ``index/built``: the next listing rebuilds it."""
        if self.index_complete():
            return 0
        grants = self.all()
        concurrently(lambda g: self._index(g, who, now), grants, name="custody-index")
        with contextlib.suppress(CasConflict):  # another replica finished first
            self.kv.write(INDEX_BUILT, {"count": len(grants)} | stamp(Event.grants_indexed, who, now), cas=0)
        return len(grants)

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
