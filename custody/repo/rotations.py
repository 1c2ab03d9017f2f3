"""Rotations in KV: the marker of one in progress (``rotating/<account>``: its lock, and what reports an interrupted
one) and the evidence of each (``rotations/<account>/<n>``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custody.domain.models import Principal
from custody.domain.rotation import Evidence, OpenRotation
from custody.errors import CasConflict
from custody.repo.kv import KV, Versioned
from custody.repo.records import (
    ROTATING,
    evidence_folder,
    evidence_from_record,
    evidence_path,
    evidence_to_record,
    marker_path,
    marker_record,
    open_rotation_from_record,
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
        entry = self.kv.read(evidence_path(account_id, number))
        return Versioned(evidence_from_record(entry.data), entry.version) if entry else None

    def keep(self, ev: Evidence, cas: int) -> int:
        """Write ``ev`` over version ``cas`` of its record (0: a new one). The new version."""
        return self.kv.write(evidence_path(ev.account, ev.number), evidence_to_record(ev), cas=cas)
