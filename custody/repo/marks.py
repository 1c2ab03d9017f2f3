"""Rotation marks in KV (``marks/<platform>/<user>``): reasons to rotate an account's codes that its code set
cannot show (a leaked code, someone who left). Each names the generation it was made against, so a rotation ends
it without anyone deleting it; a mark made again from the same source changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custody.domain.events import Event
from custody.domain.models import Principal
from custody.domain.rotation import DueKind, RotationMark
from custody.repo.documents import account_keys
from custody.repo.kv import KV, with_cas_retry
from custody.repo.records import MARKS, marks_path, stamp

MAX_MARKS = 50  # per account, newest kept: a record must stay small


def _to(m: RotationMark) -> dict[str, Any]:
    return {"kind": m.kind.value, "message": m.message, "since": m.since.isoformat(), "generation": m.generation,
            "source": m.source}


def _from(d: dict[str, Any]) -> RotationMark:
    return RotationMark(DueKind(d["kind"]), str(d["message"]), datetime.fromisoformat(d["since"]),
                        int(d["generation"]), str(d["source"]))


@dataclass(frozen=True)
class MarksRepo:
    kv: KV

    def of(self, account_id: str) -> list[RotationMark]:
        entry = self.kv.read(marks_path(account_id))
        return [_from(m) for m in (entry.data.get("marks") or [])] if entry else []

    def add(self, account_id: str, mark: RotationMark, who: Principal, now: datetime) -> bool:
        """Add ``mark``; False (nothing written) when a mark from the same source is there already."""
        def attempt() -> bool:
            entry = self.kv.read(marks_path(account_id))
            marks = [_from(m) for m in (entry.data.get("marks") or [])] if entry else []
            if any(m.source == mark.source for m in marks):
                return False
            record = {"account": account_id, "marks": [_to(m) for m in [*marks, mark][-MAX_MARKS:]]}
            self.kv.write(marks_path(account_id), record | stamp(Event.rotation_marked, who, now),
                          cas=entry.version if entry else 0)
            return True

        return with_cas_retry(attempt)

    def all(self) -> dict[str, list[RotationMark]]:
        """Every account's marks (a listing, then one read per marked account)."""
        return {a: marks for a in account_keys(self.kv, MARKS) if (marks := self.of(a))}
