"""Rotations in KV: the marker of one in progress (``rotating/<account>``: its lock, and what reports an interrupted
one) and the evidence of each (``rotations/<account>/<n>``); and the evidence of a ``codes deposit --replace``
(``replacements/<account>/<generation>``).

Both name the grants they revoke, as many as other people had opened: a record names the first hundred itself and
the rest on pages of its own (``<record>/revoked/<k>``), written before it, so that no record outgrows what Vault
accepts and no record names a page that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain.events import Event
from custody.domain.models import Principal
from custody.domain.rotation import Evidence, OpenRotation
from custody.errors import CasConflict
from custody.fanout import concurrently
from custody.repo.kv import KV, Versioned, with_cas_retry
from custody.repo.records import (
    ROTATING,
    evidence_folder,
    evidence_from_record,
    evidence_path,
    evidence_to_record,
    marker_path,
    marker_record,
    open_rotation_from_record,
    page_record,
    replacement_path,
    revoked_fields,
    revoked_page_path,
    split_grant_ids,
    stamp,
)


@dataclass(frozen=True)
class RotationsRepo:
    kv: KV

    # ---- the marker -----------------------------------------------------------------------------------------
    def open(self, account_id: str) -> OpenRotation | None:
        entry = self.kv.read(marker_path(account_id))
        return open_rotation_from_record(entry.data) if entry else None

    def all_open(self) -> dict[str, OpenRotation]:
        """Every open rotation, from a listing (a handful of calls, however many accounts there are)."""
        found: dict[str, OpenRotation] = {}
        for platform in self.kv.list_keys(ROTATING):
            for user in self.kv.list_keys(f"{ROTATING}{platform}"):
                account_id = f"{platform.rstrip('/')}/{user}"
                if (rot := self.open(account_id)) is not None:
                    found[account_id] = rot
        return found

    def mark(self, account_id: str, number: int, reason: str, who: Principal, now: datetime) -> bool:
        """Open rotation ``number``; False if another one is open already."""
        try:
            self.kv.write(marker_path(account_id), marker_record(account_id, number, reason, who, now), cas=0)
        except CasConflict:
            return False
        return True

    def unmark(self, account_id: str) -> None:
        self.kv.delete_all(marker_path(account_id))

    # ---- the evidence ---------------------------------------------------------------------------------------
    def next_number(self, account_id: str) -> int:
        numbers = (int(k) for k in self.kv.list_keys(evidence_folder(account_id)) if k.isdigit())
        return max(numbers, default=0) + 1

    def evidence(self, account_id: str, number: int) -> Versioned[Evidence] | None:
        path = evidence_path(account_id, number)
        entry = self.kv.read(path)
        if entry is None:
            return None
        return Versioned(evidence_from_record(entry.data, self._pages(path, entry.data)), entry.version)

    def keep(self, ev: Evidence, cas: int) -> int:
        """Write ``ev`` over version ``cas`` of its record (0: a new one), its pages first. The new version."""
        path = evidence_path(ev.account, ev.number)
        self._write_pages(path, ev.account, ev.revoked_grants, Event.rotation_started, ev.at)
        return self.kv.write(path, evidence_to_record(ev), cas=cas)

    # ---- the evidence of a replacement ----------------------------------------------------------------------
    def keep_replacement(self, account_id: str, generation: int, grant_ids: list[str], who: Principal,
                         now: datetime, completed: bool, cas: int = 0) -> int:
        """The evidence of the ``--replace`` that made ``generation``: the grants it is about to revoke
        (``completed=False``, a new record), then the ones it did revoke. The record's new version."""
        path = replacement_path(account_id, generation)
        self._write_pages(path, account_id, grant_ids, Event.codes_replaced, now)
        record = stamp(Event.codes_replaced, who, now) | {
            "account": account_id, "generation": generation, "status": "completed" if completed else "revoking",
            **revoked_fields(grant_ids)}
        return self.kv.write(path, record, cas=cas)

    def replacement_revoked(self, account_id: str, generation: int) -> list[str] | None:
        path = replacement_path(account_id, generation)
        entry = self.kv.read(path)
        if entry is None:
            return None
        return [*(entry.data.get("revoked_grants") or []), *self._pages(path, entry.data)]

    # ---- pages of grant ids ---------------------------------------------------------------------------------
    def _write_pages(self, path: str, account_id: str, ids: tuple[str, ...] | list[str], event: Event,
                     at: datetime) -> None:
        def write(numbered: tuple[int, list[str]]) -> None:
            page, chunk = numbered
            where = revoked_page_path(path, page)
            record = page_record(account_id, page, chunk, event, at)
            with_cas_retry(lambda: self.kv.write(where, record, cas=self.kv.current_version(where)))

        concurrently(write, list(enumerate(split_grant_ids(ids)[1], start=1)), name="custody-pages")

    def _pages(self, path: str, data: dict[str, Any]) -> list[str]:
        pages = concurrently(lambda k: self.kv.read(revoked_page_path(path, k)),
                             range(1, int(data.get("revoked_pages") or 0) + 1))
        return [str(g) for page in pages if page is not None for g in page.data.get("revoked_grants") or []]
