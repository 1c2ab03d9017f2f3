"""Recovery drills in KV: ``drills/<id>``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from custody.domain import drills as rules
from custody.domain.drills import Drill
from custody.domain.events import Event
from custody.domain.ids import DRILL_ID
from custody.domain.models import Principal
from custody.repo.documents import Documents
from custody.repo.kv import KV
from custody.repo.records import DRILLS, drill_path


@dataclass(frozen=True)
class DrillsRepo:
    kv: KV

    @property
    def docs(self) -> Documents[Drill]:
        return Documents(self.kv, Drill)

    def get(self, drill_id: str) -> Drill:
        rules.check_drill_id(drill_id)
        found = self.docs.read(drill_path(drill_id))
        if found is None:
            raise rules.unknown(drill_id)
        return found.value

    def create(self, drill: Drill, who: Principal, now: datetime) -> Drill:
        return self.docs.create(drill_path(drill.id), drill, Event.drill_started, who, now, f"drill {drill.id}")

    def update(self, drill_id: str, change: Callable[[Drill], Drill], event: Event, who: Principal,
               now: datetime) -> Drill:
        def apply(current: Drill | None) -> Drill:
            if current is None:
                raise rules.unknown(drill_id)
            return change(current)

        return self.docs.update(drill_path(drill_id), apply, event, who, now).value

    def all(self) -> list[Drill]:
        ids = [k for k in self.kv.list_keys(DRILLS) if DRILL_ID.fullmatch(k)]
        return sorted(self.docs.all([drill_path(i) for i in ids]), key=lambda d: d.started_at)
