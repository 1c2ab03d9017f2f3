"""Refused API calls, counted in KV where the audit device sees each one: ``denied/<yyyymmdd>/<slot>``.

Each refusal is one check-and-set write of the fields that name it (``event``, ``actor``, ``actor_entity``,
``path``, ``capability``, ``at``), so Vault's audit log holds every refusal with the caller's name, and the audit
summary counts them from there. What stays in KV is bounded whatever the number of refusals: at most ``SLOTS``
records a day, each holding the latest refusal counted in it and how many it has counted that day (plus the
mount's ``max_versions`` of history). A flood of refused calls costs Vault's storage no more than a quiet day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from custody.domain.models import Principal
from custody.errors import CasConflict
from custody.repo.kv import KV
from custody.repo.records import denial_path, denial_record

SLOTS = 16  # records a day: enough that concurrent refusals rarely write the same one
ATTEMPTS = 4  # slots tried before a refusal is given up as uncounted (it is still in Vault's audit log as a request)


@dataclass(frozen=True)
class DenialsRepo:
    kv: KV

    def record(self, who: Principal, path: str, capability: str, now: datetime) -> None:
        """Count one refusal in one of the day's records, chosen at random so that concurrent refusals spread out;
        a write that lost its race moves on to another. ``CasConflict`` when ``ATTEMPTS`` of them lost."""
        for slot in random.sample(range(SLOTS), ATTEMPTS):
            key = denial_path(now, slot)
            entry = self.kv.read(key)
            version = entry.version if entry is not None else self.kv.current_version(key)
            count = int(entry.data.get("count") or 0) + 1 if entry is not None else 1
            try:
                self.kv.write(key, denial_record(who, path, capability, now, count), cas=version)
                return
            except CasConflict:
                continue
        raise CasConflict("too many refusals at once to count this one", hint="it is in Vault's audit log still")
