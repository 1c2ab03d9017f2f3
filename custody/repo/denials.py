"""Refused API calls in KV (``denied/<date>/<uuid>``): written where the audit device sees them, with the
caller's name, so a refusal is evidence too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custody.domain.models import Principal
from custody.repo.kv import KV
from custody.repo.records import denial_path, denial_record


@dataclass(frozen=True)
class DenialsRepo:
    kv: KV

    def record(self, who: Principal, path: str, capability: str, now: datetime) -> None:
        self.kv.write(denial_path(now), denial_record(who, path, capability, now), cas=0)
